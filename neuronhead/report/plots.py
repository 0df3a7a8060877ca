"""PNG plots of a head's results; they draw what the other parts return and recompute nothing."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    _pyplot().close(fig)
    return path


def plot_layer_metric(
    series: Mapping[str, Mapping[int, float]], metric: str, path: str | os.PathLike, title: str = ""
) -> Path:
    """One line per series (e.g. per model): ``{layer: metric}``."""
    plt = _pyplot()
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
    return _save(fig, path)


def plot_depth_curve(
    values: Mapping[int, float], metric: str, path: str | os.PathLike, references: Mapping[str, float] = ()
) -> Path:
    """Metric of heads that use layers 0..k, against k; horizontal lines for reference baselines."""
    plt = _pyplot()
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
    return _save(fig, path)


def plot_salient_per_layer(
    counts: Mapping[int, int], width: int, path: str | os.PathLike, importance: np.ndarray | None = None
) -> Path:
    """How many neurons each layer contributes (and, if given, each layer's importance profile)."""
    plt = _pyplot()
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
    return _save(fig, path)


def plot_confusion(cm: np.ndarray, labels: Sequence[str], path: str | os.PathLike) -> Path:
    """Row-normalised confusion matrix with counts."""
    plt = _pyplot()
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
    return _save(fig, path)


def plot_lengths(lengths: Mapping[str, np.ndarray], max_length: int, path: str | os.PathLike) -> Path:
    """Token counts per text, one histogram per split; the dashed line is the truncation length."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    top = max([max_length] + [int(v.max()) for v in lengths.values() if len(v)])
    bins = np.linspace(0, top + 1, 40)
    for name, values in lengths.items():
        ax.hist(values, bins=bins, alpha=0.55, label=f"{name} ({len(values):,})", density=True)
    ax.axvline(max_length, linestyle="--", color="k", label=f"max length {max_length}")
    ax.set_xlabel("tokens per text (special tokens included)")
    ax.set_ylabel("share of texts")
    ax.set_title("text lengths")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_label_shares(shares: Mapping[str, Mapping[str, float]], path: str | os.PathLike) -> Path:
    """Grouped bars: the share of each label in each set (e.g. train, val, scored)."""
    plt = _pyplot()
    labels = list(dict.fromkeys(k for s in shares.values() for k in s))
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(labels) + 2), 3.4))
    width = 0.8 / max(1, len(shares))
    x = np.arange(len(labels))
    for i, (name, s) in enumerate(shares.items()):
        ax.bar(x + i * width, [100 * s.get(k, 0.0) for k in labels], width, label=name)
    ax.set_xticks(x + width * (len(shares) - 1) / 2, labels, rotation=30 if len(labels) > 6 else 0)
    ax.set_ylabel("% of rows")
    ax.set_title("label shares")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_selection_front(selection: Mapping, path: str | os.PathLike) -> Path:
    """Every candidate of model selection: score on the selection split (95% interval) against the
    deepest layer it needs, marker area ∝ share of the model's neurons read; the shipped model is ringed."""
    plt = _pyplot()
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
    return _save(fig, path)
