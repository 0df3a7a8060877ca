"""``neuronhead analyze``: label shares over time and by group, from a folder of scores.

Ray Data reads the score shards and turns each block into small partial counts in parallel; the driver
adds them up as they stream in, so memory grows with the number of (bucket, group, label) cells, not
with the rows. Results are written as Parquet and CSV, plotted as time series (PNG), and summarised in
``summary.json``, which accounts for every row: scored, filtered, failed, and rows without a date.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from neuronhead.analyze.counts import (
    NO_DATE,
    NO_GROUP,
    HeadColumns,
    hashtag_counts,
    partial_counts,
    reduce_counts,
    row_totals,
    totals_table,
)
from neuronhead.analyze.plots import plot_means, plot_shares
from neuronhead.analyze.shares import label_shares, value_means
from neuronhead.pipelines.runner import resolve_engine
from neuronhead.store import MANIFEST, read_manifest, write_json, write_table
from neuronhead.tweets.columns import META_NAMES

KINDS = ("counts", "hashtags", "totals")
REDUCE_EVERY = 64  # partial tables held before they are added up


def _with_kind(table: pa.Table, kind: str) -> pa.Table:
    return table.append_column("kind", pa.array([kind] * table.num_rows, pa.string()))


def _block(table: pa.Table, heads: list[HeadColumns], by: str | None, group_by: str | None) -> pa.Table:
    """One block of scores → its partial counts, hashtag counts and row totals, in one table."""
    parts = [_with_kind(partial_counts(table, heads, by, group_by), "counts")]
    if "hashtags" in table.column_names:
        parts.append(_with_kind(hashtag_counts(table, heads), "hashtags"))
    parts.append(_with_kind(totals_table(row_totals(table)), "totals"))
    return pa.concat_tables(parts)


def _blocks(files: list[str], columns: list[str], fn, engine: str, address: str | None) -> Iterator[pa.Table]:
    if resolve_engine(engine, address) == "local":
        for f in files:
            yield fn(pq.read_table(f, columns=columns))
        return
    import ray

    from neuronhead.cluster.connect import ensure_ray

    ensure_ray(address)
    ds = ray.data.read_parquet(files, override_num_blocks=len(files)).select_columns(columns)
    ds = ds.map_batches(fn, batch_format="pyarrow", batch_size=None, zero_copy_batch=True)
    yield from ds.iter_batches(batch_size=None, batch_format="pyarrow")


def analyze(
    scores: str | os.PathLike,
    out: str | os.PathLike,
    *,
    by: str | None = "day",
    group_by: str | None = None,
    top: int = 20,
    engine: str = "auto",
    address: str | None = None,
    plots: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Shares (means for regression heads) per time bucket and group, with 95% CIs; top hashtags."""
    t0 = time.perf_counter()
    scores, out = Path(scores), Path(out)
    if not (scores / MANIFEST).exists():
        raise FileNotFoundError(
            f"{scores}: no {MANIFEST}; point --scores at a `neuronhead score` --out folder"
        )
    manifest = read_manifest(scores)
    if manifest.get("kind") != "scores":
        raise ValueError(f"{scores}: not a folder of scores (its manifest kind is {manifest.get('kind')!r})")
    if manifest.get("status") != "complete":
        raise ValueError(
            f"{scores}: the scoring job has not finished; rerun `neuronhead score` to complete it"
        )
    heads = [HeadColumns(name, h["task"]) for name, h in manifest["heads"].items()]
    label_names = {name: h.get("label_names") or [] for name, h in manifest["heads"].items()}
    files = [str(scores / s["file"]) for s in manifest["shards"]]
    available = set(pq.read_schema(files[0]).names) if files else set()
    needed = {"created_at"} if by else set()
    needed |= {"hashtag": {"hashtags"}, "lang": {"lang"}, "author": {"author_id"}}.get(group_by or "", set())
    missing = sorted(needed - available)
    if missing:
        raise ValueError(
            f"{scores}: the scores have no {', '.join(missing)} column; time buckets and groups need a "
            f"tweet dump as the scored input (`neuronhead score --data DUMP`), or leave out --by/--group-by"
        )
    columns = ["row", "error", *[h.column for h in heads]]
    columns += [
        c for c in META_NAMES if c in available and c in {"created_at", "hashtags", "lang", "author_id"}
    ]

    def fn(table: pa.Table) -> pa.Table:
        return _block(table, heads, by, group_by)

    held: dict[str, list[pa.Table]] = {k: [] for k in KINDS}
    totals: dict[str, int] = {}
    bar = tqdm(total=manifest["summary"]["rows_out"], unit="row", desc="analyze", disable=not progress)
    for block in _blocks(files, columns, fn, engine, address):
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
    counts = reduce_counts(held["counts"])
    tags = reduce_counts(held["hashtags"])
    if totals.get("rows", 0) != manifest["summary"]["rows_out"]:
        raise RuntimeError(
            f"{scores}: read {totals.get('rows', 0)} rows, the scores hold {manifest['summary']['rows_out']}"
        )

    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    shares = label_shares(counts, label_names)
    means = value_means(counts)
    for name, table in (("shares", shares), ("means", means)):
        if table.num_rows:
            written[name] = _write(
                table.sort_by([("head", "ascending"), ("group", "ascending"), ("bucket", "ascending")]),
                out / name,
            )
    top_tags = top_hashtags(tags, totals.get("scored", 0), top) if tags.num_rows else None
    if top_tags is not None and top_tags.num_rows:
        written["top_hashtags"] = _write(top_tags, out / "top_hashtags")
    figures = []
    if plots and by and shares.num_rows:
        figures += plot_shares(shares, out / "plots", by=by, group_by=group_by)
    if plots and by and means.num_rows:
        figures += plot_means(means, out / "plots", by=by, group_by=group_by)
    undated = totals.get("rows", 0) - totals.get("dated", 0) if by else 0
    summary = {
        "scores": str(scores),
        "by": by,
        "group_by": group_by,
        "rows": totals.get("rows", 0),
        "scored": totals.get("scored", 0),
        "filtered": totals.get("filtered", 0),
        "errors": totals.get("errors", 0),
        "rows_without_date": undated,
        "buckets": sorted(set(counts["bucket"].to_pylist()) - {NO_DATE}),
        "groups": len(set(counts["group"].to_pylist())),
        "heads": {h.name: h.task for h in heads},
        "files": written,
        "plots": [str(p) for p in figures],
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_json(summary, out / "summary.json")
    return summary


def top_hashtags(tags: pa.Table, scored: int, top: int) -> pa.Table:
    """Per (head, label): the ``top`` hashtags of the rows predicted that label, with their lift.

    ``share`` is the fraction of the label's rows carrying the hashtag; ``lift`` divides it by the
    hashtag's fraction among all scored rows (above 1: the hashtag leans to the label).
    """
    cols = ("head", "label", "group", "n")
    label_rows: dict[tuple[str, str], int] = {}
    overall: dict[tuple[str, str], int] = {}
    per_label: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for h, lab, g, n in zip(*(tags[c].to_pylist() for c in cols), strict=True):
        if g is None:
            label_rows[(h, lab)] = n
        elif lab is None:
            overall[(h, g)] = n
        elif g != NO_GROUP["hashtag"]:
            per_label.setdefault((h, lab), []).append((n, g))
    out: dict[str, list] = {k: [] for k in ("head", "label", "rank", "hashtag", "n", "share", "lift")}
    for (h, lab), items in sorted(per_label.items()):
        for rank, (n, g) in enumerate(sorted(items, key=lambda x: (-x[0], x[1]))[:top], 1):
            share = n / label_rows[(h, lab)]
            base = overall[(h, g)] / scored if scored else math.nan
            for key, value in zip(out, (h, lab, rank, g, n, share, share / base), strict=True):
                out[key].append(value)
    types = {"rank": pa.int32(), "n": pa.int64(), "share": pa.float64(), "lift": pa.float64()}
    return pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in out.items()})


def _write(table: pa.Table, stem: Path) -> str:
    """``stem.parquet`` (atomic) and ``stem.csv`` beside it."""
    write_table(table, stem.with_suffix(".parquet"))
    tmp = stem.with_suffix(".csv.tmp")
    pacsv.write_csv(table, tmp)
    os.replace(tmp, stem.with_suffix(".csv"))
    return str(stem.with_suffix(".parquet"))
