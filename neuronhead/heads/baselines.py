"""Baselines in the same harness: a tuned logistic (or linear) regression on any feature matrix.

They reuse the Phase-1 trainer with one probe and a 10% held-out slice, so a baseline gets the same
standardization, L2 grid and early stopping as the head it is compared with.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuronhead.heads.params import Params
from neuronhead.heads.phase1 import LayerProbes


def as_probe_input(X: np.ndarray) -> np.ndarray:
    """``(rows, features…)`` → ``(rows, 1, 2, features/2)``: one flat probe over every feature."""
    flat = X.reshape(len(X), -1)
    if flat.shape[1] % 2:
        flat = np.concatenate([flat, np.zeros((len(flat), 1), flat.dtype)], axis=1)
    return flat.reshape(len(flat), 1, 2, -1)


class LinearBaseline(Params):
    """Logistic regression (classification) or ridge-like regression with a held-out-tuned L2.

    ``probe_params`` are :class:`LayerProbes` parameters (``c_grid``, ``class_weight``, ``select``…);
    ``folds`` defaults to 1, a 10% held-out slice.
    """

    def __init__(
        self,
        task: str = "classification",
        label_names: list[str] | None = None,
        probe_params: dict[str, Any] | None = None,
    ) -> None:
        self.task = task
        self.label_names = label_names
        self.probe_params = probe_params

    def fit(
        self, X: np.ndarray, y: np.ndarray, rows: np.ndarray | None = None, n_outputs: int | None = None
    ) -> LinearBaseline:
        params = {"folds": 1, **(self.probe_params or {})}
        self.probe_ = LayerProbes(self.task, **params).fit(
            as_probe_input(X), y, rows, n_outputs=n_outputs, label_names=self.label_names
        )
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.probe_.predict_layer(as_probe_input(X))[:, 0]
