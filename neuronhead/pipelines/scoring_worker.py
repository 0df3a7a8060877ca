"""The model actor of the scoring pipeline: one forward pass, every head, one Parquet shard of scores.

The model runs only up to the deepest layer any head needs and gathers only the union of the heads'
salient neurons; each head then reads its own neurons out of that union. Heads arrive as bytes (JSON
+ safetensors), so workers on other nodes need no shared filesystem for them. A row that cannot be
scored (empty text, nothing left to pool) gets a reason in ``error`` and nulls elsewhere: rows in =
rows out.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from neuronhead.heads.artifact import head_from_bytes
from neuronhead.pipelines.options import Capture, Compute
from neuronhead.pipelines.worker import Computed, ShardWorker
from neuronhead.store import shard_name, write_table
from neuronhead.tweets.columns import META_FIELDS, META_NAMES


@dataclass(frozen=True)
class ScorerSettings:
    model_path: str
    heads: list[dict[str, Any]]  # {"name", "info", "weights", "where"}
    out: str  # folder the score shards go to
    capture: Capture = Capture()  # max_length and pool_special_tokens: as the heads' features were made
    compute: Compute = Compute()
    torch_threads: int | None = None
    keep_text: bool = False
    tweet_columns: bool = False  # carry the tweets' metadata columns into the scores


def union_neurons(heads: dict[str, Any]) -> dict[int, np.ndarray]:
    """``{layer: sorted neuron ids}`` needed by any of the heads."""
    out: dict[int, set[int]] = {}
    for head in heads.values():
        for layer, idx in head.neurons_.items():
            out.setdefault(int(layer), set()).update(int(i) for i in idx)
    return {layer: np.array(sorted(v), dtype=np.int64) for layer, v in sorted(out.items())}


def score_schema(heads: dict[str, Any], keep_text: bool = False, tweet_columns: bool = False) -> pa.Schema:
    fields = [pa.field("row", pa.int64()), pa.field("id", pa.string())]
    if tweet_columns:
        fields += META_FIELDS
    if keep_text:
        fields.append(pa.field("text", pa.string()))
    for name, head in heads.items():
        if head.task == "regression":
            fields.append(pa.field(f"{name}_label", pa.float64()))
        else:
            fields += [
                pa.field(f"{name}_label", pa.string()),
                pa.field(f"{name}_label_id", pa.int32()),
                pa.field(f"{name}_scores", pa.list_(pa.float32(), head.n_outputs_)),
            ]
    fields += [pa.field("truncated", pa.bool_()), pa.field("error", pa.string())]
    return pa.schema(fields)


class ShardScorer(ShardWorker):
    """Loads the model once (only the blocks needed), then turns shards into score files."""

    def __init__(self, settings: ScorerSettings) -> None:
        self.settings = settings
        self.heads = {h.name: head_from_bytes(h)[0] for h in settings.heads}
        self.neurons = union_neurons(self.heads)
        # Where each head's neurons sit inside the union, per layer.
        self.positions = {
            name: {
                layer: np.searchsorted(self.neurons[layer], np.asarray(idx, np.int64))
                for layer, idx in head.neurons_.items()
            }
            for name, head in self.heads.items()
        }
        self.load(list(self.neurons), max(self.neurons) + 1, neurons=self.neurons)
        self.schema = score_schema(self.heads, settings.keep_text, settings.tweet_columns)

    def finish(self, computed: Computed) -> dict:
        """Every head's labels and scores from the one forward pass, then one atomic Parquet file."""
        t0 = time.perf_counter()
        s, shard, ok = self.settings, computed.shard, computed.ok
        n = len(shard["row"])
        columns: dict[str, Any] = {"row": shard["row"], "id": shard["id"]}
        if s.tweet_columns:
            columns.update({name: shard[name] for name in META_NAMES})
        if s.keep_text:
            columns["text"] = shard["text"]
        for name, head in self.heads.items():
            columns.update(self._head_columns(name, head, computed.outputs, ok, n))
        columns["truncated"] = shard["truncated"]
        columns["error"] = computed.errors
        table = pa.Table.from_pydict(columns, schema=self.schema)
        t_heads = time.perf_counter()
        write_table(table, Path(s.out) / shard_name(shard["shard"]))
        return self.summary(computed, t0, heads=t_heads - t0, write=time.perf_counter() - t_heads)

    def head_outputs(self, name: str, feats: dict) -> np.ndarray:
        """One head on the union features of the rows that ran: class probabilities (the softmax of
        its decision values), or the predicted values of a regression head."""
        head = self.heads[name]
        values = {layer: feats[layer][:, :, pos] for layer, pos in self.positions[name].items()}
        d = head.decision_values(values)
        if head.task == "regression":
            return head.predict_from_decision(d)
        return torch.softmax(torch.from_numpy(d), 1).numpy()

    def _head_columns(self, name: str, head: Any, feats: dict, ok: list[int], n: int) -> dict[str, Any]:
        label: list[Any] = [None] * n
        out = self.head_outputs(name, feats) if ok else None
        if head.task == "regression":
            for j, i in enumerate(ok):
                label[i] = float(out[j])
            return {f"{name}_label": label}
        label_id: list[int | None] = [None] * n
        scores: list[list[float] | None] = [None] * n
        if ok:
            ids = out.argmax(1)
            names = head.label_names_ or [str(k) for k in range(head.n_outputs_)]
            for j, i in enumerate(ok):
                label_id[i], label[i], scores[i] = int(ids[j]), names[ids[j]], out[j].tolist()
        return {f"{name}_label": label, f"{name}_label_id": label_id, f"{name}_scores": scores}


class KeptScorer:
    """Hands out one ``ShardScorer`` again for jobs that differ only in their output folder (and
    whether tweet columns are carried), so a follower scoring file after file loads the model once.
    In-process engine only: it is a factory, not the class Ray builds its actors from."""

    def __init__(self) -> None:
        self.scorer: ShardScorer | None = None
        self.built = 0  # models loaded, for the follower's measurements and tests

    def __call__(self, settings: ScorerSettings) -> ShardScorer:
        kept = self.scorer
        same_model = dataclasses.replace(settings, out="", tweet_columns=False)
        if kept is None or dataclasses.replace(kept.settings, out="", tweet_columns=False) != same_model:
            kept = self.scorer = ShardScorer(settings)
            self.built += 1
        kept.settings = settings  # a tweet dump after a CSV: the same model, other output columns
        kept.schema = score_schema(kept.heads, settings.keep_text, settings.tweet_columns)
        return kept
