"""Ray Data graphs that wire data → models → store. They compose; they hold no model or head logic."""

from neuronhead.pipelines.extract import extract, parse_layers
from neuronhead.pipelines.headset import HeadSet
from neuronhead.pipelines.options import Capture, Compute, Engine, Output, Reading
from neuronhead.pipelines.score import score

__all__ = ["Capture", "Compute", "Engine", "HeadSet", "Output", "Reading", "extract", "parse_layers", "score"]
