"""Search the head's knobs (selection, Phase-2 width and variant, depth, regularisation) with Ray Tune.

Names import their module on first use (``neuronhead.lazy``): the CLI reads ``tune.options`` to build
its flags without importing Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuronhead.lazy import lazy_exports

_WHERE = {"TuneEngine": "options", "TuneOptions": "options", "tune_head": "search"}
__all__ = ["TuneEngine", "TuneOptions", "tune_head"]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from neuronhead.tune.options import TuneEngine, TuneOptions
    from neuronhead.tune.search import tune_head
