"""PNG plots of a head's results; they draw what the other parts return and recompute nothing."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from neuronhead.plotting import pyplot, save


def plot_layer_metric(
    series: Mapping[str, Mapping[int, float]], metric: str, path: str | os.PathLike, title: str = ""
) -> Path:
    """One line per series (e.g. per model): ``{layer: metric}``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, values in series.items():
        layers = sorted(values)
        ax.plot(layers, [values[k] for k in layers], marker="o", label=name)
    ax.set_xlabel("layer")
    ax.set_ylabel(metric)
    ax.set_title(title or f"single-layer probes: {metric} by layer")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return save(fig, path)


def plot_depth_curve(
    values: Mapping[int, float], metric: str, path: str | os.PathLike, references: Mapping[str, float] = ()
) -> Path:
    """Metric of heads that use layers 0..k, against k; horizontal lines for reference baselines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ks = sorted(values)
    ax.plot(ks, [values[k] for k in ks], marker="o", label="two-phase head on layers 0..k")
    for i, (name, value) in enumerate(dict(references).items()):
        ax.axhline(value, linestyle="--", color=f"C{i + 1}", label=name)
    ax.set_xlabel("deepest layer k")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} vs deepest layer used")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_salient_per_layer(
    counts: Mapping[int, int], width: int, path: str | os.PathLike, importance: np.ndarray | None = None
) -> Path:
    """How many neurons each layer contributes (and, if given, each layer's importance profile)."""
    plt = pyplot()
    ncols = 2 if importance is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 3.6), squeeze=False)
    layers = sorted(counts)
    axes[0, 0].bar(layers, [counts[k] for k in layers])
    axes[0, 0].set_xlabel("layer")
    axes[0, 0].set_ylabel(f"salient neurons (of {width})")
    axes[0, 0].set_title("salient neurons per layer")
    if importance is not None:
        ax = axes[0, 1]
        for layer, imp in enumerate(importance):
            ax.plot(np.arange(1, len(imp) + 1), np.sort(imp)[::-1], label=f"layer {layer}")
        ax.set_xscale("log")
        ax.set_xlabel("neuron rank")
        ax.set_ylabel("importance (‖w‖₂)")
        ax.set_title("importance by rank")
        ax.legend(fontsize=7)
    return save(fig, path)


def plot_confusion(cm: np.ndarray, labels: Sequence[str], path: str | os.PathLike) -> Path:
    """Row-normalised confusion matrix with counts."""
    plt = pyplot()
    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.2 * n + 2.5, 1.1 * n + 2))
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                f"{cm[i, j]}\n{share[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if share[i, j] > 0.6 else "black",
            )
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (val)")
    return save(fig, path)


def plot_selection_front(selection: Mapping, path: str | os.PathLike) -> Path:
    """Every candidate of model selection: score on the selection split (95% interval) against the
    deepest layer it needs, marker area ∝ share of the model's neurons read; the shipped model is ringed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    styles = {"head": "o", "layer_probe": "s", "all_layer_probe": "D"}
    offsets = {"head[logits+values]": -0.15, "head[logits]": 0.0, "head[values]": 0.15}
    for kind, marker in styles.items():
        for family in sorted({c["name"].split("@")[0] for c in selection["candidates"] if c["kind"] == kind}):
            cs = [c for c in selection["candidates"] if c["name"].split("@")[0] == family]
            x = np.array([c["deepest_layer"] + offsets.get(family, 0.0) for c in cs])
            y = np.array([c["score"] for c in cs])
            err = np.array([[c["score"] - c["lo"] for c in cs], [c["hi"] - c["score"] for c in cs]])
            ax.errorbar(x, y, yerr=err, fmt="none", alpha=0.35, color="gray")
            size = np.array([20 + 360 * c["neuron_share"] for c in cs])
            label = family if kind == "head" else kind.replace("_", " ")
            ax.scatter(x, y, s=size, marker=marker, label=label, zorder=3)
    chosen = next(c for c in selection["candidates"] if c["name"] == selection["chosen"])
    ax.scatter(
        [chosen["deepest_layer"]], [chosen["score"]], s=260, facecolors="none", edgecolors="k", zorder=4
    )
    ax.set_xlabel("deepest layer the model needs")
    ax.set_ylabel(f"{selection['metric']} on {selection['select_on']} ({selection['rows']} rows)")
    ax.set_title(f"model selection: shipped {selection['chosen']}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return save(fig, path)
