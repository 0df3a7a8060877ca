"""Per-neuron standardization statistics, accumulated in a streaming pass.

Probe weights are only comparable across neurons (and so usable as importance) when every input has
unit scale; the statistics are summed chunk by chunk in float64, so the training set never has to be
in memory as float32 at once, and the same code serves in-memory arrays and shards read one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from neuronhead.heads.params import Params

BLOCK_BYTES = 2**28  # float64 held at once per block; MiniLM's 4,096-row chunks of a layer stay whole


class Standardizer(Params):
    """``(x - mean_) / scale_`` per feature; features with no spread keep scale 1."""

    def __init__(self, eps: float = 1e-6) -> None:
        self.eps = eps

    def fit_chunks(self, chunks: Iterable[np.ndarray]) -> Standardizer:
        """Accumulate over chunks shaped ``(rows, *feature_shape)``. A chunk is summed in blocks of at
        most ``BLOCK_BYTES`` of float64, squared in place: 4,000 rows of five GPT2-XL layers would
        otherwise take 4 GB of float64 at once."""
        total = sq = None
        n = 0
        for chunk in chunks:
            step = max(1, BLOCK_BYTES // max(1, 8 * int(np.prod(chunk.shape[1:]))))
            for i in range(0, len(chunk), step):
                c = np.asarray(chunk[i : i + step]).astype(np.float64)  # a copy: squared in place
                s = c.sum(axis=0)
                q = np.square(c, out=c).sum(axis=0)
                total, sq = (s, q) if total is None else (total + s, sq + q)
                n += len(c)
        if not n:
            raise ValueError("cannot standardize: no rows")
        mean = total / n
        var = np.maximum(sq / n - mean**2, 0.0)
        scale = np.sqrt(var)
        self.mean_ = mean.astype(np.float32)
        self.scale_ = np.where(scale > self.eps, scale, 1.0).astype(np.float32)
        self.n_ = n
        return self

    def fit(self, X: np.ndarray, chunk_rows: int = 4096) -> Standardizer:
        return self.fit_chunks(X[i : i + chunk_rows] for i in range(0, len(X), chunk_rows))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float32) - self.mean_) / self.scale_

    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The row count and the statistics, for a checkpoint or a saved Phase 1."""
        return {"n": getattr(self, "n_", None)}, {"mean": self.mean_, "scale": self.scale_}

    @classmethod
    def _from_state(cls, info: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Standardizer:
        """Statistics fitted elsewhere: a worker's checkpoint, joined layer groups, a saved Phase 1."""
        std = cls()
        std.mean_, std.scale_ = arrays["mean"], arrays["scale"]
        if info.get("n") is not None:
            std.n_ = int(info["n"])
        return std
