"""Feature stores with a planted signal, in the exact store format, for tests and scale benchmarks.

Extracting GPT2-XL-wide features (48 × 6,400 neurons) from a real model takes hours on a CPU; a fit's
memory and its salient-neuron recovery can be checked on a store written directly. Each class raises a
few named neurons' pooled values (mean and max) by ``strength`` standard deviations; every other
value is noise, so a correct Phase 1 ranks the planted neurons first in their layers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from neuronhead.manifests import FeatureManifest, ModelRecord, ShardEntry
from neuronhead.models.tokens import MAX_LENGTH
from neuronhead.store import feature_schema, fixed_size_float16, shard_name, write_manifest, write_table


@dataclass(frozen=True)
class PlantedStore:
    """What to write: ``rows`` × ``layers`` × ``width``, ``planted`` signal neurons spread over layers."""

    rows: int = 1000
    layers: int = 4
    width: int = 64
    classes: int = 3
    planted: int = 12
    strength: float = 1.0
    shard_rows: int = 256
    seed: int = 0

    def planted_neurons(self) -> dict[int, np.ndarray]:
        """``{layer: neuron indices}``: ``planted`` neurons, round-robin over the layers."""
        rng = np.random.default_rng(self.seed + 1)
        per = np.array_split(np.arange(self.planted), self.layers)
        return {layer: np.sort(rng.choice(self.width, len(p), replace=False)) for layer, p in enumerate(per)}


def write_planted_store(folder: str | os.PathLike, spec: PlantedStore) -> dict[int, np.ndarray]:
    """Write the store shard by shard (memory: one shard); returns the planted neurons per layer."""
    folder = Path(folder)
    (folder / "shards").mkdir(parents=True, exist_ok=True)
    planted = spec.planted_neurons()
    names = [f"class_{c}" for c in range(spec.classes)]
    schema = feature_schema({layer: spec.width for layer in range(spec.layers)}, "class")
    rng = np.random.default_rng(spec.seed)
    entries = []
    for k, start in enumerate(range(0, spec.rows, spec.shard_rows)):
        n = min(spec.shard_rows, spec.rows - start)
        label = rng.integers(0, spec.classes, n)
        columns = {
            "row": pa.array(np.arange(start, start + n), pa.int64()),
            "id": pa.array([str(i) for i in range(start, start + n)]),
            "text": pa.array([f"synthetic row {i}" for i in range(start, start + n)]),
            "label": pa.array(label, pa.int64()),
        }
        valid = np.ones(n, bool)
        for layer in range(spec.layers):
            for pool in ("mean", "max"):
                x = rng.standard_normal((n, spec.width)).astype(np.float32)
                idx = planted.get(layer, np.array([], int))
                # Neuron j of the layer fires for class j mod classes: the signal spans every class.
                for j, neuron in enumerate(idx):
                    x[:, neuron] += spec.strength * (label == (j % spec.classes)) * 2.0
                columns[f"layer_{layer}_{pool}"] = fixed_size_float16(x, valid)
        columns["n_tokens"] = pa.array(np.full(n, 16), pa.int32())
        columns["truncated"] = pa.array(np.zeros(n, bool))
        columns["error"] = pa.array([None] * n, pa.string())
        write_table(pa.table(columns, schema=schema), folder / shard_name(k))
        entries.append(ShardEntry(shard_name(k), n, start))
    manifest = FeatureManifest(
        status="complete",
        model=ModelRecord(name="synthetic", weights_sha256=f"planted-{spec.seed}"),
        layers=list(range(spec.layers)),
        max_length=MAX_LENGTH,
        label_kind="class",
        label_names=names,
        rows=spec.rows,
        shards=entries,
        synthetic={**vars(spec), "planted": {int(k): v.tolist() for k, v in planted.items()}},
    )
    write_manifest(manifest, folder)
    return planted
