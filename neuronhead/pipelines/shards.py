"""Shards: the unit of work, of resume and of output files.

A shard is a fixed run of good rows of one input file. It travels through Ray as a single row whose
columns are lists (ids, texts, token ids...), so an actor always receives whole shards — even on GPU
stages, where Ray insists on an integer ``batch_size`` — and can write each one as one atomic file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa

from neuronhead.data import SourcePlan, label_ids, read_rows
from neuronhead.models.tokens import PortableTokenizer, Tokenized
from neuronhead.tweets.columns import META_FIELDS


@dataclass(frozen=True)
class Shard:
    shard_id: int
    file_index: int
    start: int  # first good row within the file
    count: int
    first_row: int  # global row number of the shard's first row

    def to_dict(self) -> dict:
        return asdict(self)


def plan_shards(plan: SourcePlan, shard_rows: int) -> list[Shard]:
    shards: list[Shard] = []
    row = 0
    for index, fplan in enumerate(plan.files):
        for start in range(0, fplan.n_rows, shard_rows):
            count = min(shard_rows, fplan.n_rows - start)
            shards.append(Shard(len(shards), index, start, count, row))
            row += count
    return shards


def auto_shard_rows(bytes_per_row: int, target_bytes: int = 64 << 20) -> int:
    """Rows per shard so a shard's features stay near ``target_bytes`` (64..4096 rows)."""
    rows = max(64, min(4096, target_bytes // max(1, bytes_per_row)))
    return int(rows // 64 * 64)


def pack(columns: dict[str, list]) -> pa.Table:
    """One shard as a one-row table of list columns."""
    return pa.table({name: [values] for name, values in columns.items()})


def unpack(table: pa.Table) -> list[dict[str, list]]:
    return table.to_pylist()


def read_shard(plan: SourcePlan, shard: Shard) -> pa.Table:
    """The shard's rows: ``row``, ``id`` (given, else the row number), stripped ``text``, ``label``,
    ``skip`` (why a filtered row is not run), ``read_s`` (seconds it took) and, for tweet dumps, the
    tweets' metadata columns."""
    t0 = time.perf_counter()
    rows = read_rows(plan, shard.file_index, shard.start, shard.count)
    numbers = list(range(shard.first_row, shard.first_row + shard.count))
    table = pack(
        {
            "shard": shard.shard_id,
            "row": numbers,
            "id": [r.id if r.id is not None else str(n) for r, n in zip(rows, numbers, strict=True)],
            "text": [r.text for r in rows],
            "label": label_ids(plan, rows),
            "skip": [r.skip for r in rows],
            "read_s": time.perf_counter() - t0,
        }
    )
    if plan.source.kind == "tweets":
        for f in META_FIELDS:
            values = [r.meta[f.name] if r.meta else None for r in rows]
            table = table.append_column(f.name, pa.array([values], pa.list_(f.type)))
    return table.replace_schema_metadata(None)


def tokenize_shards(batch: pa.Table, *, tokenizer: PortableTokenizer) -> pa.Table:
    """Add ``input_ids``, ``special``, ``truncated`` and ``tokenize_s`` to packed shards (empty texts get
    no tokens). ``tokenizer`` is portable: a tokenize worker needs neither torch nor transformers."""
    out = []
    for shard in unpack(batch):
        t0 = time.perf_counter()
        shard.update(tokenize_rows(tokenizer, shard["text"], shard.get("skip")))
        shard["tokenize_s"] = time.perf_counter() - t0
        out.append(pack(shard))
    return pa.concat_tables(out, promote_options="permissive")


def prepare_shard(plan: SourcePlan, shard: Shard, tokenizer: PortableTokenizer) -> pa.Table:
    """``shard`` read and tokenized, packed: what a model worker takes, in either engine."""
    return tokenize_shards(read_shard(plan, shard), tokenizer=tokenizer)


def tokenize_rows(
    tokenizer: Callable[[list[str]], Tokenized], texts: list[str], skips: list[str | None] | None = None
) -> dict[str, list]:
    """``input_ids``, ``special`` and ``truncated`` per text; empty and skipped texts get no tokens."""
    skips = skips or [None] * len(texts)
    keep = [i for i, t in enumerate(texts) if t and not skips[i]]
    tok = tokenizer([texts[i] for i in keep]) if keep else None
    ids: list[list[int]] = [[] for _ in texts]
    special: list[list[int]] = [[] for _ in texts]
    truncated = [False] * len(texts)
    for j, i in enumerate(keep):
        ids[i], special[i], truncated[i] = tok.ids[j], tok.special[j], tok.truncated[j]
    return {"input_ids": ids, "special": special, "truncated": truncated}


STATS = "shard_stats.json"


def load_stats(out: Path) -> dict:
    """``OUT/shard_stats.json``: the summaries of the shards finished so far, by shard id."""
    path = out / STATS
    return json.loads(path.read_text()) if path.exists() else {}


def step_seconds(shard: dict, **steps: float) -> dict[str, float]:
    """Where a shard's time went: read and tokenize (recorded on the way) and the worker's own steps."""
    spent = {"read": shard.get("read_s"), "tokenize": shard.get("tokenize_s"), **steps}
    return {k: round(v, 4) for k, v in spent.items() if v is not None}


def row_errors(shard: dict, pool_special_tokens: bool) -> list[str | None]:
    """Why each row of a tokenized shard cannot go through the model (None: it can)."""
    errors: list[str | None] = []
    skips = shard.get("skip") or [None] * len(shard["text"])
    for text, special, skip in zip(shard["text"], shard["special"], skips, strict=True):
        pooled = len(special) if pool_special_tokens else len(special) - sum(special)
        if skip:
            errors.append(skip)
        elif not text:
            errors.append("empty text")
        elif pooled == 0:
            errors.append("no tokens to pool (the text tokenizes to special tokens only)")
        else:
            errors.append(None)
    return errors
