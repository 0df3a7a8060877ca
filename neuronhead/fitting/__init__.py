"""Choosing and fitting heads from a feature store: model selection on train, Phase 1 streamed from
the store or on Ray Train workers, and ``fit_head``, which writes the shipped head and its report.

Names import their module on first use (``neuronhead.lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuronhead.lazy import lazy_exports

_WHERE = {"FitOptions": "train", "evaluate_head": "train", "fit_head": "train"}
__all__ = ["FitOptions", "evaluate_head", "fit_head"]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from neuronhead.fitting.train import FitOptions, evaluate_head, fit_head
