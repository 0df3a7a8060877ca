"""``neuronhead analyze``: label shares over time and by group, from a folder of scores.

The scores are read and counted in ``reading`` (Ray Data, or in-process); here the counts become
shares and means with their intervals, written as Parquet and CSV, plotted as time series (PNG), and
summarised in ``summary.json``, which accounts for every row: scored, filtered, failed, and rows
without a date.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from neuronhead.analyze.counts import NO_DATE, NO_GROUP
from neuronhead.analyze.options import AnalyzeOptions
from neuronhead.analyze.plots import plot_means, plot_shares
from neuronhead.analyze.reading import ScoreFolder, Tally, open_scores, tally
from neuronhead.analyze.shares import label_shares, value_means
from neuronhead.pipelines.options import Engine
from neuronhead.store import write_json, write_table


def analyze(
    scores: str | os.PathLike,
    out: str | os.PathLike,
    options: AnalyzeOptions = AnalyzeOptions(),
    *,
    engine: Engine = Engine(),
    progress: bool = True,
) -> dict[str, Any]:
    """Shares (means for regression heads) per time bucket and group, with 95% CIs; top hashtags.

    ``engine`` says where the score shards are read (its ``num_actors`` is not used).
    """
    t0 = time.perf_counter()
    scores, out = Path(scores), Path(out)
    folder = open_scores(scores)
    counted = tally(folder, options, engine, progress)
    out.mkdir(parents=True, exist_ok=True)
    shares = label_shares(counted.counts, folder.label_names)
    means = value_means(counted.counts)
    written = _write_tables(out, shares, means, counted, options.top)
    figures = []
    if options.plots and options.by and shares.num_rows:
        figures += plot_shares(shares, out / "plots", by=options.by, group_by=options.group_by)
    if options.plots and options.by and means.num_rows:
        figures += plot_means(means, out / "plots", by=options.by, group_by=options.group_by)
    summary = _summary(folder, options, counted, written, figures) | {
        "seconds": round(time.perf_counter() - t0, 2)
    }
    write_json(summary, out / "summary.json")
    return summary


def _write_tables(out: Path, shares: pa.Table, means: pa.Table, counted: Tally, top: int) -> dict[str, str]:
    """Shares, means and top hashtags as Parquet and CSV (the empty ones skipped); name → Parquet path."""
    written: dict[str, str] = {}
    for name, table in (("shares", shares), ("means", means)):
        if table.num_rows:
            written[name] = _write(
                table.sort_by([("head", "ascending"), ("group", "ascending"), ("bucket", "ascending")]),
                out / name,
            )
    tags = counted.tags
    top_tags = top_hashtags(tags, counted.totals.get("scored", 0), top) if tags.num_rows else None
    if top_tags is not None and top_tags.num_rows:
        written["top_hashtags"] = _write(top_tags, out / "top_hashtags")
    return written


def _summary(
    folder: ScoreFolder, options: AnalyzeOptions, counted: Tally, written: dict[str, str], figures: list
) -> dict[str, Any]:
    """``summary.json`` less its timing: every row accounted for, and what was written."""
    totals, counts = counted.totals, counted.counts
    undated = totals.get("rows", 0) - totals.get("dated", 0) if options.by else 0
    return {
        "scores": str(folder.path),
        "by": options.by,
        "group_by": options.group_by,
        "rows": totals.get("rows", 0),
        "scored": totals.get("scored", 0),
        "filtered": totals.get("filtered", 0),
        "errors": totals.get("errors", 0),
        "rows_without_date": undated,
        "buckets": sorted(set(counts["bucket"].to_pylist()) - {NO_DATE}),
        "groups": len(set(counts["group"].to_pylist())),
        "heads": {h.name: h.task for h in folder.heads},
        "files": written,
        "plots": [str(p) for p in figures],
    }


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
