"""What scored tweets say: label shares over time and by group, with confidence intervals."""

from neuronhead.analyze.job import analyze

__all__ = ["analyze"]
