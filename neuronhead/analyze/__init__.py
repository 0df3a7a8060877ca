"""What scored tweets say: label shares over time and by group, with confidence intervals.

Names import their module on first use (``neuronhead.lazy``): the CLI reads ``analyze.options`` to
build its flags without importing Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuronhead.lazy import lazy_exports

_WHERE = {"AnalyzeOptions": "options", "analyze": "job"}
__all__ = ["AnalyzeOptions", "analyze"]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from neuronhead.analyze.job import analyze
    from neuronhead.analyze.options import AnalyzeOptions
