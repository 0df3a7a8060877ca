"""neuronhead: text classification with the internal FFN neurons of pretrained transformers."""

__version__ = "0.1.0"
