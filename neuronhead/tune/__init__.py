"""Search the head's knobs (selection, Phase-2 width and variant, depth, regularisation) with Ray Tune."""

from neuronhead.tune.options import TuneEngine, TuneOptions
from neuronhead.tune.search import tune_head

__all__ = ["TuneEngine", "TuneOptions", "tune_head"]
