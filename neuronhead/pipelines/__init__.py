"""Sharded jobs: data → models → store (``extract``) and data → models → heads (``score``), one
lifecycle, run in this process or on a Ray actor pool. The model and head logic stays in
``models`` and ``heads``; ``HeadSet`` loads and checks the heads that share one pass.

Names import their module on first use (``neuronhead.lazy``), so a Ray read or tokenize task that
unpickles ``pipelines.shards`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuronhead.lazy import lazy_exports

_WHERE = {
    "Capture": "options",
    "Compute": "options",
    "Engine": "options",
    "HeadSet": "headset",
    "Output": "options",
    "Reading": "options",
    "extract": "extraction",
    "parse_layers": "extraction",
    "score": "scoring",
}
__all__ = [
    "Capture",
    "Compute",
    "Engine",
    "HeadSet",
    "Output",
    "Reading",
    "extract",
    "parse_layers",
    "score",
]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from neuronhead.pipelines.extraction import extract, parse_layers
    from neuronhead.pipelines.headset import HeadSet
    from neuronhead.pipelines.options import Capture, Compute, Engine, Output, Reading
    from neuronhead.pipelines.scoring import score
