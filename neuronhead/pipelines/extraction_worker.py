"""The model actor of the extraction pipeline: packed shard in, one Parquet shard written, summary out.

Features are written where they are computed, so they never cross Ray's object store; only a few
numbers per shard travel back to the driver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from neuronhead.pipelines.options import Capture, Compute
from neuronhead.pipelines.worker import Computed, ShardWorker
from neuronhead.store import (
    EMBED_COLUMNS,
    FP16_MAX,
    feature_schema,
    fixed_size_float16,
    shard_name,
    write_table,
)


@dataclass(frozen=True)
class ExtractorSettings:
    """What every model actor needs: the job's option groups (``capture.layers`` already a list)."""

    model_path: str
    out: str
    label_kind: str | None
    capture: Capture
    compute: Compute = Compute()
    torch_threads: int | None = None  # filled in from the pool sizing when unset


class ShardExtractor(ShardWorker):
    """Loads the model once (only the blocks needed), then turns shards into feature files."""

    def __init__(self, settings: ExtractorSettings) -> None:
        self.settings = settings
        capture = settings.capture
        depth = None if capture.embeddings else max(capture.layers) + 1
        self.load(capture.layers, depth, embeddings=capture.embeddings)
        embed_dim = self.hooked.embed_dim if capture.embeddings else None
        self.schema = feature_schema(self.hooked.widths(), settings.label_kind, embed_dim)

    def finish(self, computed: Computed) -> dict:
        """Feature columns in float16 (clipped to its range, counted), then one atomic Parquet file."""
        t0 = time.perf_counter()
        s, shard, ok = self.settings, computed.shard, computed.ok
        n = len(shard["row"])
        valid = np.zeros(n, dtype=bool)
        valid[ok] = True
        columns: dict[str, pa.Array] = {
            "row": pa.array(shard["row"], pa.int64()),
            "id": pa.array(shard["id"], pa.string()),
            "text": pa.array(shard["text"], pa.string()),
        }
        if s.label_kind:
            columns["label"] = pa.array(shard["label"], self.schema.field("label").type)
        clipped = 0
        for layer, width in self.hooked.widths().items():
            for p, pool in enumerate(("mean", "max")):
                values, over = _float16_ready(computed.outputs.get(layer), p, ok, n, width)
                clipped += over
                columns[f"layer_{layer}_{pool}"] = fixed_size_float16(values, valid)
        for name in EMBED_COLUMNS if s.capture.embeddings else ():
            values, _ = _float16_ready(computed.outputs.get(name), None, ok, n, self.hooked.embed_dim)
            columns[name] = fixed_size_float16(values, valid)
        columns["n_tokens"] = pa.array([len(x) for x in shard["input_ids"]], pa.int32())
        columns["truncated"] = pa.array(shard["truncated"], pa.bool_())
        columns["error"] = pa.array(computed.errors, pa.string())
        table = pa.Table.from_pydict(columns, schema=self.schema)
        t_convert = time.perf_counter()
        write_table(table, Path(s.out) / shard_name(shard["shard"]))
        steps = {"convert": t_convert - t0, "write": time.perf_counter() - t_convert}
        return self.summary(computed, t0, **steps) | {"fp16_clipped": clipped}


def _float16_ready(
    outputs: np.ndarray | None, pool: int | None, ok: list[int], n: int, width: int
) -> tuple[np.ndarray, int]:
    """``(n, width)`` float32 values (zeros on rows that failed) within float16's range; how many clipped.

    When every row went through the model, the model's array is used as it is (a strided view): no
    zero-filled copy. The range check is two reductions; only a shard that overflows pays for a mask.
    """
    if outputs is not None and pool is not None:
        outputs = outputs[:, pool, :]
    if len(ok) == n and outputs is not None:
        values = outputs
    else:
        values = np.zeros((n, width), dtype=np.float32)
        if ok:
            values[ok] = outputs
    if n == 0 or (values.max() <= FP16_MAX and values.min() >= -FP16_MAX):
        return values, 0
    over = int((np.abs(values) > FP16_MAX).sum())
    return np.clip(values, -FP16_MAX, FP16_MAX), over
