"""What scored tweets say: label shares over time and by group, with confidence intervals."""

from neuronhead.analyze.job import analyze
from neuronhead.analyze.options import AnalyzeOptions

__all__ = ["AnalyzeOptions", "analyze"]
