"""The search's results as tables: every trial ranked, and the best head for each deepest layer.

Only what a rerun with the same seed reproduces goes into these files (configs and metrics, rounded
for printing); wall times live in ``summary.json``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from neuronhead.evaluation.metrics import headline
from neuronhead.store import write_atomic

PARAM_COLUMNS = (
    "selection",
    "salient_fraction",
    "salient_share",
    "width",
    "variant",
    "max_layer",
    "lr",
    "weight_decay",
    "dropout",
    "phase1_c",
)


def _round(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.5g}")
    return v


def leaderboard_rows(trials: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """``trials``: ``{"trial", "config", "metrics"}`` each; best first (ties: earlier trial first)."""
    rows = []
    for t in trials:
        m = t["metrics"]
        row = {"trial": t["trial"], metric: m.get(f"val_{metric}")}
        for k in ("accuracy", "macro_f1", "macro_recall", "pearson", "mae"):
            if k != metric and f"val_{k}" in m:
                row[k] = m[f"val_{k}"]
        row |= {
            "deepest_layer": m.get("deepest_layer"),
            "n_neurons": m.get("n_neurons"),
            "neuron_fraction": m.get("neuron_fraction"),
        }
        row |= {k: t["config"].get(k) for k in PARAM_COLUMNS}
        row |= {"best_epoch": m.get("best_epoch"), "epochs": m.get("training_iteration")}
        rows.append({k: _round(v) for k, v in row.items()})
    rows.sort(key=lambda r: (-(row_score(r, metric)), r["trial"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return [{"rank": r.pop("rank"), **r} for r in rows]


def row_score(row: dict[str, Any], metric: str) -> float:
    """The row's :func:`headline` value (higher is better); a trial without the metric ranks last."""
    return float("-inf") if row.get(metric) is None else headline(row, metric)


def pareto_rows(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """The best trial for each deepest layer; ``on_front`` when no shallower head scores as well."""
    best: dict[int, dict[str, Any]] = {}
    for r in rows:  # rows are ranked, so the first seen per depth is its best
        if r["deepest_layer"] is not None and r["deepest_layer"] not in best:
            best[r["deepest_layer"]] = r
    out, top = [], float("-inf")
    for depth in sorted(best):
        r = best[depth]
        s = row_score(r, metric)
        out.append(
            {
                "deepest_layer": depth,
                metric: r[metric],
                "trial": r["trial"],
                "n_neurons": r["n_neurons"],
                "rank": r["rank"],
                "on_front": s > top,
            }
        )
        top = max(top, s)
    return out


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=columns)
            w.writeheader()
            w.writerows(rows)

    write_atomic(path, write)


def markdown(rows: list[dict[str, Any]], limit: int | None = None) -> str:
    if not rows:
        return "(no trials)\n"
    columns = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows[:limit]:
        lines.append("| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"
