"""neuronhead: text classification with the internal FFN neurons of pretrained transformers.

The package's face: ``neuronhead.load`` gives a trained head as a predictor. Importing ``neuronhead``
stays cheap (no torch) until a head is loaded.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from neuronhead.version import __version__

if TYPE_CHECKING:
    from neuronhead.pipelines.predictor import Predictor

__all__ = ["__version__", "load"]


def load(
    *heads: str | os.PathLike, model: str | None = None, force: bool = False, **compute: Any
) -> Predictor:
    """``neuronhead.load("runs/x/head")`` (or several ``NAME=PATH`` heads, or an exported bundle): a
    predictor with ``predict``, ``predict_proba``, ``predict_values`` and ``explain`` that applies what
    each head recorded.

    ``model`` runs another copy of the heads' model (its weights must match unless ``force``);
    ``compute`` takes ``Compute``'s fields (``batch_size``, ``device``, ``dtype``…).
    """
    from neuronhead.pipelines.predictor import Predictor  # torch and transformers: only when asked

    return Predictor.load([str(h) for h in heads], model=model, force=force, **compute)
