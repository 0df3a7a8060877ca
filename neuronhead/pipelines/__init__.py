"""Sharded jobs: data → models → store (``extract``) and data → models → heads (``score``), one
lifecycle, run in this process or on a Ray Data actor pool. The model and head logic stays in
``models`` and ``heads``; ``HeadSet`` loads and checks the heads that share one pass."""

from neuronhead.pipelines.extract import extract, parse_layers
from neuronhead.pipelines.headset import HeadSet
from neuronhead.pipelines.options import Capture, Compute, Engine, Output, Reading
from neuronhead.pipelines.score import score

__all__ = ["Capture", "Compute", "Engine", "HeadSet", "Output", "Reading", "extract", "parse_layers", "score"]
