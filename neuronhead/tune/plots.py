"""PNG plots of a tuning search: the metric against each searched knob, and metric vs scoring depth."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neuronhead.plotting import pyplot, save


def plot_trials(rows: Sequence[dict[str, Any]], metric: str, folder: str | os.PathLike) -> list[Path]:
    """Scatter of every trial's metric against neuron fraction, Phase-2 width and deepest layer."""
    plt = pyplot()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    done = [r for r in rows if r.get(metric) is not None]
    paths = []
    for key, label, log in (
        ("neuron_fraction", "fraction of neurons kept", True),
        ("width", "Phase-2 width (0 = linear)", False),
        ("deepest_layer", "deepest layer k", False),
    ):
        fig, ax = plt.subplots(figsize=(5, 3.4))
        for variant, marker in (("logits", "o"), ("logits+values", "^")):
            pts = [r for r in done if r.get("variant") == variant]
            x, y = [r[key] for r in pts], [r[metric] for r in pts]
            ax.scatter(x, y, marker=marker, alpha=0.7, label=variant)
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        paths.append(save(fig, folder / f"tune-{key}.png"))
    return paths


def plot_pareto(front: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]], metric: str, path) -> Path:
    """All trials by deepest layer, with the best head per depth joined: what each layer of cost buys."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    done = [r for r in rows if r.get(metric) is not None]
    x, y = [r["deepest_layer"] for r in done], [r[metric] for r in done]
    ax.scatter(x, y, color="0.7", s=14, label="trials")
    ax.plot(
        [p["deepest_layer"] for p in front],
        [p[metric] for p in front],
        marker="o",
        color="C3",
        label="best per deepest layer",
    )
    for p in front:
        if p["on_front"]:
            ax.annotate(
                f"{p[metric]:.2f}",
                (p["deepest_layer"], p[metric]),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=8,
            )
    ax.set_xlabel("deepest layer k (scoring stops after it)")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)
