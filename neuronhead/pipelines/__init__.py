"""Ray Data graphs that wire data → models → store. They compose; they hold no model or head logic."""

from neuronhead.pipelines.extract import extract, parse_layers

__all__ = ["extract", "parse_layers"]
