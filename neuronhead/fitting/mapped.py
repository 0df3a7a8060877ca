"""A feature store decoded once into a memory-mapped float16 file, for code that revisits every row.

Tuning trains many Phase-2 heads on the same rows. Reading them from Parquet for each would decode the
store once per trial, and holding them in memory is what a wide model cannot afford (TweetEval
sentiment at MiniLM width is 1.7 GB of float16, at GPT2-XL width 56 GB). Decoded once into a raw
``(rows, layers, 2, width)`` file, the rows are read through the page cache: no process holds them,
trials in other processes map the same file, and the operating system reclaims the pages under
pressure.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from neuronhead.fitting.stream import StoreRows, StreamOptions, layer_width
from neuronhead.store import read_features_manifest, write_atomic, write_json


@dataclass(frozen=True)
class MappedFeatures:
    """Rows ``start:stop`` of a decoded store: ``path`` holds ``shape`` float16 values. Pickles as
    its path (Ray's object store carries a few bytes, not the rows)."""

    path: str
    shape: tuple[int, int, int, int]  # rows, layers, 2, width
    start: int = 0
    stop: int | None = None

    def array(self) -> np.memmap:
        return np.memmap(self.path, np.float16, mode="r", shape=self.shape)[self.start : self.stop]

    def rows(self, start: int, stop: int | None = None) -> MappedFeatures:
        """Rows ``start:stop`` of the whole file."""
        return MappedFeatures(self.path, self.shape, start, stop)


def decode_store(
    source: StoreRows,
    path: str | os.PathLike,
    order: np.ndarray | None = None,
    options: StreamOptions | None = None,
    progress: bool = False,
) -> tuple[MappedFeatures, np.ndarray, np.ndarray]:
    """Write the featured rows of ``source`` to ``path`` (``order``: positions in store order, e.g.
    search rows first, then dev rows); returns the map, row numbers and labels in that order.

    Reused when ``path`` already holds the same rows of the same store (a resumed search). Written
    to a temporary name, then renamed: an interrupted decode leaves nothing that looks finished.
    """
    rows, labels = source.targets()
    order = np.arange(len(rows)) if order is None else np.asarray(order)
    if len(order) != len(rows) or len(np.unique(order)) != len(rows):
        raise ValueError(f"order must list every one of the {len(rows)} rows once")
    layers = list(read_features_manifest(source.folder).layers)
    shape = (len(order), len(layers), 2, layer_width(source.folder, layers[0]))
    path = Path(path)
    key = {"store": str(Path(source.folder).resolve()), "shape": list(shape), "rows": _digest(rows[order])}
    info = path.with_suffix(".json")
    if path.exists() and info.exists() and json.loads(info.read_text()) == key:
        return MappedFeatures(str(path), shape), rows[order], labels[order]
    path.parent.mkdir(parents=True, exist_ok=True)
    where = np.empty(len(rows), np.int64)
    where[order] = np.arange(len(order))  # store position → file position

    def write(tmp: str) -> None:
        out = np.memmap(tmp, np.float16, mode="w+", shape=shape)
        at = 0
        bar = tqdm(total=len(rows), desc=f"decoding {path.name}", unit="row", disable=not progress)
        for shard in source.shards(layers, options or StreamOptions()):
            for _, _, X in shard:
                out[where[at : at + len(X)]] = X
                at += len(X)
                bar.update(len(X))
        bar.close()
        out.flush()
        del out

    write_atomic(path, write)
    write_json(key, info)
    return MappedFeatures(str(path), shape), rows[order], labels[order]


def _digest(rows: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(rows, np.int64).tobytes()).hexdigest()[:16]
