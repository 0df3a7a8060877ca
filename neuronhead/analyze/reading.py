"""Reading a folder of scores into counts: checked, streamed block by block, and added up.

Ray Data reads the score shards and turns each block into small partial counts in parallel; the driver
adds them up as they stream in, so memory grows with the number of (bucket, group, label) cells, not
with the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from neuronhead.analyze.counts import (
    HeadColumns,
    hashtag_counts,
    partial_counts,
    reduce_counts,
    row_totals,
    totals_table,
)
from neuronhead.analyze.options import AnalyzeOptions
from neuronhead.manifests import ScoreManifest
from neuronhead.pipelines.options import Engine
from neuronhead.pipelines.runner import resolve_engine
from neuronhead.store import MANIFEST, read_scores_manifest
from neuronhead.tweets.columns import META_NAMES

KINDS = ("counts", "hashtags", "totals")
REDUCE_EVERY = 64  # partial tables held before they are added up
META_READ = {"created_at", "hashtags", "lang", "author_id"}  # the tweet metadata buckets and groups use


@dataclass
class ScoreFolder:
    """A finished ``neuronhead score`` folder: its manifest, heads and shard files."""

    path: Path
    manifest: ScoreManifest
    heads: list[HeadColumns]
    label_names: dict[str, list[str]]
    files: list[str]

    @property
    def rows(self) -> int:
        return self.manifest.rows_out

    def columns(self, options: AnalyzeOptions) -> list[str]:
        """The columns to read; refuses buckets or groups whose tweet metadata the scores lack."""
        available = set(pq.read_schema(self.files[0]).names) if self.files else set()
        needed = {"created_at"} if options.by else set()
        groups = {"hashtag": {"hashtags"}, "lang": {"lang"}, "author": {"author_id"}}
        needed |= groups.get(options.group_by or "", set())
        missing = sorted(needed - available)
        if missing:
            raise ValueError(
                f"{self.path}: the scores have no {', '.join(missing)} column; time buckets and groups "
                "need a tweet dump as the scored input (`neuronhead score --data DUMP`), or leave out "
                "--by/--group-by"
            )
        columns = ["row", "error", *[h.column for h in self.heads]]
        return columns + [c for c in META_NAMES if c in available and c in META_READ]


def open_scores(scores: Path) -> ScoreFolder:
    """The scores folder, refused when it is not one or its scoring job has not finished."""
    if not (scores / MANIFEST).exists():
        raise FileNotFoundError(
            f"{scores}: no {MANIFEST}; point --scores at a `neuronhead score` --out folder"
        )
    manifest = read_scores_manifest(scores)
    if not manifest.complete:
        raise ValueError(
            f"{scores}: the scoring job has not finished; rerun `neuronhead score` to complete it"
        )
    return ScoreFolder(
        path=scores,
        manifest=manifest,
        heads=[HeadColumns(name, h.task) for name, h in manifest.heads.items()],
        label_names={name: h.label_names or [] for name, h in manifest.heads.items()},
        files=[str(scores / s.file) for s in manifest.shards],
    )


@dataclass
class Tally:
    """Everything the scores add up to: counts per cell, hashtag counts, and row totals."""

    counts: pa.Table
    tags: pa.Table
    totals: dict[str, int]


def tally(folder: ScoreFolder, options: AnalyzeOptions, engine: Engine, progress: bool) -> Tally:
    """Stream every shard through the per-block counts and add them up; checks every row was read."""
    columns = folder.columns(options)

    def fn(table: pa.Table) -> pa.Table:
        return block_counts(table, folder.heads, options.by, options.group_by)

    held: dict[str, list[pa.Table]] = {k: [] for k in KINDS}
    totals: dict[str, int] = {}
    bar = tqdm(total=folder.rows, unit="row", desc="analyze", disable=not progress)
    for block in blocks(folder.files, columns, fn, engine):
        for kind in KINDS:
            part = block.filter(pc.equal(block["kind"], kind)).drop_columns(["kind"])
            if kind == "totals":
                got = dict(zip(part["label"].to_pylist(), part["n"].to_pylist(), strict=True))
                totals = {k: totals.get(k, 0) + got.get(k, 0) for k in {*totals, *got}}
                bar.update(got.get("rows", 0))
                continue
            held[kind].append(part)
            if len(held[kind]) >= REDUCE_EVERY:
                held[kind] = [reduce_counts(held[kind])]
    bar.close()
    result = Tally(reduce_counts(held["counts"]), reduce_counts(held["hashtags"]), totals)
    if totals.get("rows", 0) != folder.rows:
        raise RuntimeError(f"{folder.path}: read {totals.get('rows', 0)} rows, the scores hold {folder.rows}")
    return result


def _with_kind(table: pa.Table, kind: str) -> pa.Table:
    return table.append_column("kind", pa.array([kind] * table.num_rows, pa.string()))


def block_counts(table: pa.Table, heads: list[HeadColumns], by: str | None, group_by: str | None) -> pa.Table:
    """One block of scores → its partial counts, hashtag counts and row totals, in one table."""
    parts = [_with_kind(partial_counts(table, heads, by, group_by), "counts")]
    if "hashtags" in table.column_names:
        parts.append(_with_kind(hashtag_counts(table, heads), "hashtags"))
    parts.append(_with_kind(totals_table(row_totals(table)), "totals"))
    return pa.concat_tables(parts)


def blocks(
    files: list[str], columns: list[str], fn: Callable[[pa.Table], pa.Table], engine: Engine
) -> Iterator[pa.Table]:
    """``fn`` of each shard's ``columns``: in this process (``local``), or as a Ray Data map."""
    if resolve_engine(engine.engine, engine.address) == "local":
        for f in files:
            yield fn(pq.read_table(f, columns=columns))
        return
    import ray

    from neuronhead.cluster.connect import ensure_ray

    ensure_ray(engine.address)
    ds = ray.data.read_parquet(files, override_num_blocks=len(files)).select_columns(columns)
    ds = ds.map_batches(fn, batch_format="pyarrow", batch_size=None, zero_copy_batch=True)
    yield from ds.iter_batches(batch_size=None, batch_format="pyarrow")
