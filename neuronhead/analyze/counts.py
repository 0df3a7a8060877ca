"""Per-block partial counts of scored rows, and their reduction: the map and reduce of ``analyze``.

A block of score rows becomes a small table of counts keyed by (time bucket, group, head, label); counts
from many blocks add up. Regression heads carry sums instead of counts (n, sum, sum of squares), so a
mean and its confidence interval come out of the same reduction. Filtered and failed rows never count
towards a share; the totals keep them, so the analysis accounts for every scored row.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

BUCKETS = ("hour", "day", "week")
GROUPS = ("lang", "hashtag", "author")
NO_DATE = "no date"
NO_GROUP = {"lang": "unknown", "hashtag": "(no hashtag)", "author": "unknown"}
COUNT_KEYS = ["bucket", "group", "head", "label"]


@dataclass(frozen=True)
class HeadColumns:
    """Which column of the scores holds a head's prediction, and whether it is a class or a value."""

    name: str
    task: str  # classification | regression

    @property
    def column(self) -> str:
        return f"{self.name}_label"


def bucket_of(created_at: pa.ChunkedArray | pa.Array, by: str | None) -> pa.Array:
    """The start of each row's time bucket as an ISO string (UTC); rows without a date get ``no date``."""
    if by is None:
        return pa.array(["all"] * len(created_at), pa.string())
    if by not in BUCKETS:
        raise ValueError(f"--by must be one of {', '.join(BUCKETS)}, not {by!r}")
    floor = pc.floor_temporal(created_at, unit=by, week_starts_monday=True)
    text = pc.strftime(floor, format="%Y-%m-%dT%H:%M" if by == "hour" else "%Y-%m-%d")
    return pc.fill_null(text, NO_DATE)


def _groups(table: pa.Table, group_by: str | None) -> tuple[pa.Table, pa.Array]:
    """Rows (repeated once per hashtag when grouping by hashtag) and each row's group."""
    if group_by is None:
        return table, pa.array(["all"] * table.num_rows, pa.string())
    if group_by not in GROUPS:
        raise ValueError(f"--group-by must be one of {', '.join(GROUPS)}, not {group_by!r}")
    if group_by == "hashtag":
        tags = pc.fill_null(table["hashtags"], pa.scalar([], pa.list_(pa.string())))
        # A tweet without hashtags still counts once, under "(no hashtag)".
        tags = pc.if_else(pc.equal(pc.list_value_length(tags), 0), pa.scalar([None], tags.type), tags)
        parents = pc.list_parent_indices(tags)
        flat = pc.utf8_lower(pc.list_flatten(tags))
        return table.take(parents), pc.fill_null(flat, NO_GROUP["hashtag"])
    column = "author_id" if group_by == "author" else group_by
    return table, pc.fill_null(table[column], NO_GROUP[group_by])


def partial_counts(
    table: pa.Table, heads: list[HeadColumns], by: str | None, group_by: str | None
) -> pa.Table:
    """Counts of one block: ``bucket, group, head, label, n, sum, sumsq`` (label null: all rows)."""
    table, group = _groups(table, group_by)
    keyed = pa.table(
        {
            "bucket": bucket_of(table["created_at"] if by else table["row"], by),
            "group": group,
            "scored": pc.is_null(table["error"]),
        }
    )
    parts = []
    for head in heads:
        label = table[head.column]
        if head.task == "regression":
            value = pc.cast(label, pa.float64())
            t = keyed.append_column("value", value).filter(pc.field("scored"))
            t = t.append_column("sq", pc.multiply(t["value"], t["value"]))
            agg = t.group_by(["bucket", "group"]).aggregate(
                [("value", "count"), ("value", "sum"), ("sq", "sum")]
            )
            parts.append(
                pa.table(
                    {
                        "bucket": agg["bucket"],
                        "group": agg["group"],
                        "head": pa.array([head.name] * agg.num_rows, pa.string()),
                        "label": pa.nulls(agg.num_rows, pa.string()),
                        "n": pc.cast(agg["value_count"], pa.int64()),
                        "sum": agg["value_sum"],
                        "sumsq": agg["sq_sum"],
                    }
                )
            )
            continue
        t = keyed.append_column("label", pc.cast(label, pa.string())).append_column(
            "one", pa.array([1] * keyed.num_rows, pa.int64())
        )
        agg = t.filter(pc.field("scored")).group_by(["bucket", "group", "label"]).aggregate([("one", "sum")])
        parts.append(
            pa.table(
                {
                    "bucket": agg["bucket"],
                    "group": agg["group"],
                    "head": pa.array([head.name] * agg.num_rows, pa.string()),
                    "label": agg["label"],
                    "n": agg["one_sum"],
                    "sum": pa.nulls(agg.num_rows, pa.float64()),
                    "sumsq": pa.nulls(agg.num_rows, pa.float64()),
                }
            )
        )
    return pa.concat_tables(parts) if parts else empty_counts()


def empty_counts() -> pa.Table:
    return pa.table(
        {
            "bucket": pa.array([], pa.string()),
            "group": pa.array([], pa.string()),
            "head": pa.array([], pa.string()),
            "label": pa.array([], pa.string()),
            "n": pa.array([], pa.int64()),
            "sum": pa.array([], pa.float64()),
            "sumsq": pa.array([], pa.float64()),
        }
    )


def reduce_counts(tables: list[pa.Table]) -> pa.Table:
    """Add up partial counts that share (bucket, group, head, label)."""
    if not tables:
        return empty_counts()
    t = pa.concat_tables(tables)
    agg = t.group_by(COUNT_KEYS, use_threads=False).aggregate(
        [("n", "sum"), ("sum", "sum"), ("sumsq", "sum")]
    )
    return pa.table(
        {
            **{k: agg[k] for k in COUNT_KEYS},
            "n": agg["n_sum"],
            "sum": agg["sum_sum"],
            "sumsq": agg["sumsq_sum"],
        }
    )


def row_totals(table: pa.Table) -> dict[str, int]:
    """Every row of a block, by what became of it (so the analysis can account for all of them)."""
    error = table["error"]
    filtered = pc.starts_with(pc.fill_null(error, ""), "filtered: ")
    dated = table.num_rows - table["created_at"].null_count if "created_at" in table.column_names else 0
    return {
        "rows": table.num_rows,
        "scored": int(error.null_count),
        "filtered": int(pc.sum(filtered).as_py() or 0),
        "errors": table.num_rows - int(error.null_count) - int(pc.sum(filtered).as_py() or 0),
        "dated": int(dated),
    }


def hashtag_counts(table: pa.Table, heads: list[HeadColumns]) -> pa.Table:
    """Scored rows per (head, predicted label, hashtag), in the counts layout (hashtag in ``group``).

    Also, per head: label null = the hashtag over all labels; group null = the label's rows (each
    tweet once, however many hashtags it has), which the shares divide by.
    """
    scored = table.filter(pc.is_null(table["error"]))
    tagged, tag = _groups(scored, "hashtag")
    parts = []
    for head in heads:
        if head.task == "regression":
            continue
        label = pc.cast(tagged[head.column], pa.string())
        t = pa.table({"group": tag, "label": label, "one": pa.array([1] * tagged.num_rows, pa.int64())})
        rows = pa.table(
            {
                "group": pa.nulls(scored.num_rows, pa.string()),
                "label": pc.cast(scored[head.column], pa.string()),
                "one": pa.array([1] * scored.num_rows, pa.int64()),
            }
        )
        for source, keys in ((t, ["group", "label"]), (t, ["group"]), (rows, ["group", "label"])):
            agg = source.group_by(keys).aggregate([("one", "sum")])
            n = agg.num_rows
            parts.append(
                pa.table(
                    {
                        "bucket": pa.array(["all"] * n, pa.string()),
                        "group": agg["group"],
                        "head": pa.array([head.name] * n, pa.string()),
                        "label": agg["label"] if "label" in keys else pa.nulls(n, pa.string()),
                        "n": agg["one_sum"],
                        "sum": pa.nulls(n, pa.float64()),
                        "sumsq": pa.nulls(n, pa.float64()),
                    }
                )
            )
    return pa.concat_tables(parts) if parts else empty_counts()


def totals_table(totals: dict[str, int]) -> pa.Table:
    """Row totals in the counts layout: the total's name in ``label``, its value in ``n``."""
    n = len(totals)
    base = empty_counts()
    columns = {c: pa.nulls(n, base.schema.field(c).type) for c in base.column_names}
    columns.update(label=pa.array(list(totals), pa.string()), n=pa.array(list(totals.values()), pa.int64()))
    return pa.table(columns)
