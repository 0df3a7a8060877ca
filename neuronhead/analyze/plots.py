"""Time series of label shares (and of means, for regression heads) with their 95% bands, as PNG.

One figure per head. Without a grouping it is one panel; with one, a panel per group for the groups
with the most scored rows (the rest are in the tables), all on the same axes so they compare at a look.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from neuronhead.analyze.counts import NO_DATE
from neuronhead.plotting import pyplot, save

MAX_PANELS = 6


def _x(buckets: list[str]) -> list[datetime]:
    return [datetime.fromisoformat(b) for b in buckets]


def _panels(table: pa.Table, head: str, group_by: str | None) -> list[tuple[str, pa.Table]]:
    """The head's rows per group, the groups with the most scored rows first (at most MAX_PANELS)."""
    t = table.filter(pc.and_(pc.equal(table["head"], head), pc.not_equal(table["bucket"], NO_DATE)))
    if group_by is None:
        return [("all", t)]
    size_col = "total" if "total" in t.column_names else "n"
    sizes = t.group_by("group").aggregate([(size_col, "sum")]).sort_by([(f"{size_col}_sum", "descending")])
    groups = sizes["group"].to_pylist()[:MAX_PANELS]
    return [(g, t.filter(pc.equal(t["group"], g))) for g in groups]


def _grid(n: int):
    plt = pyplot()
    cols = 1 if n == 1 else 2
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(7 * cols, 3.2 * rows), sharex=True, sharey=True, squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def _per_head(table: pa.Table, folder, group_by: str | None, suffix: str, title: str, draw) -> list[Path]:
    """One figure per head: ``draw(ax, head, group, rows)`` fills each panel."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for head in sorted(set(table["head"].to_pylist())):
        panels = _panels(table, head, group_by)
        if not any(t.num_rows for _, t in panels):
            continue
        fig, axes = _grid(len(panels))
        for ax, (group, t) in zip(axes, panels, strict=False):
            draw(ax, head, group, t)
            ax.grid(alpha=0.3)
        fig.autofmt_xdate()
        fig.suptitle(f"{head}: {title}", fontsize=11)
        paths.append(save(fig, folder / f"{head}-{suffix}.png"))
    return paths


def plot_shares(shares: pa.Table, folder: str | os.PathLike, *, by: str, group_by: str | None) -> list[Path]:
    """``{head}-shares.png``: each label's share of the scored rows per time bucket, with its CI band."""

    def draw(ax, head: str, group: str, t: pa.Table) -> None:
        labels = sorted(set(shares.filter(pc.equal(shares["head"], head))["label"].to_pylist()))
        for i, lab in enumerate(labels):
            s = t.filter(pc.equal(t["label"], lab)).sort_by("bucket")
            x = _x(s["bucket"].to_pylist())
            ax.plot(x, s["share"].to_pylist(), color=f"C{i % 10}", label=lab, lw=1.4)
            ax.fill_between(
                x, s["ci_low"].to_pylist(), s["ci_high"].to_pylist(), color=f"C{i % 10}", alpha=0.2
            )
        n = sum(t.filter(pc.equal(t["label"], labels[0]))["total"].to_pylist())
        ax.set_title(
            f"{head}" + (f" · {group_by} {group}" if group_by else "") + f" · {n:,} scored", fontsize=9
        )
        ax.set_ylabel("share (95% CI)")
        ax.set_ylim(0, None)
        if ax.get_subplotspec().is_first_row() and ax.get_subplotspec().is_first_col():
            ax.legend(fontsize=8, ncol=min(4, len(labels)), loc="upper left")

    return _per_head(shares, folder, group_by, "shares", f"label shares per {by}", draw)


def plot_means(means: pa.Table, folder: str | os.PathLike, *, by: str, group_by: str | None) -> list[Path]:
    """``{head}-means.png``: a regression head's mean prediction per time bucket, with its CI band."""

    def draw(ax, head: str, group: str, t: pa.Table) -> None:
        s = t.sort_by("bucket")
        mean = s["mean"].to_numpy(zero_copy_only=False)
        low, high = (
            np.nan_to_num(s[c].to_numpy(zero_copy_only=False), nan=mean) for c in ("ci_low", "ci_high")
        )
        x = _x(s["bucket"].to_pylist())
        ax.plot(x, mean, color="C0", lw=1.4)
        ax.fill_between(x, low, high, color="C0", alpha=0.2)  # n = 1 buckets have no band
        ax.set_title(f"{head}" + (f" · {group_by} {group}" if group_by else ""), fontsize=9)
        ax.set_ylabel("mean (95% CI)")

    return _per_head(means, folder, group_by, "means", f"mean prediction per {by}", draw)
