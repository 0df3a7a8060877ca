"""The run report's plots of the data itself: text lengths per split and label shares per set."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from neuronhead.plotting import pyplot, save


def plot_lengths(lengths: Mapping[str, np.ndarray], max_length: int, path: str | os.PathLike) -> Path:
    """Token counts per text, one histogram per split; the dashed line is the truncation length."""
    plt = pyplot()
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
    return save(fig, path)


def plot_label_shares(shares: Mapping[str, Mapping[str, float]], path: str | os.PathLike) -> Path:
    """Grouped bars: the share of each label in each set (e.g. train, val, scored)."""
    plt = pyplot()
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
    return save(fig, path)
