"""Which neurons of each layer a head keeps: the salient ones, or a random control of the same size."""

from __future__ import annotations

import numpy as np


def select_salient(
    importance: np.ndarray,
    *,
    fraction: float | None = None,
    share: float | None = None,
    layers: list[int] | None = None,
) -> dict[int, np.ndarray]:
    """``{layer: neuron indices}`` (sorted) from ``importance`` of shape ``(layers, width)``.

    ``fraction``: the top fraction of each layer's neurons. ``share``: per layer, the fewest top
    neurons whose squared importance reaches that share of the layer's total (SPIN's η).
    """
    if (fraction is None) == (share is None):
        raise ValueError("give exactly one of fraction or share")
    value = fraction if fraction is not None else share
    if not 0 < value <= 1:
        raise ValueError(f"{'fraction' if fraction is not None else 'share'} must lie in (0, 1], got {value}")
    layers = list(range(len(importance))) if layers is None else layers
    out = {}
    for layer in layers:
        imp = np.asarray(importance[layer], dtype=np.float64)
        order = np.argsort(-imp, kind="stable")
        if fraction is not None:
            k = max(1, int(round(fraction * len(imp))))
        else:
            cum = np.cumsum(imp[order] ** 2)
            k = int(np.searchsorted(cum, share * cum[-1] - 1e-12) + 1)
        out[layer] = np.sort(order[: min(k, len(imp))])
    return out


def select_random(sizes: dict[int, int], width: int, seed: int = 0) -> dict[int, np.ndarray]:
    """The random-neuron control: as many neurons per layer as ``sizes`` says, drawn uniformly."""
    rng = np.random.default_rng(seed)
    return {layer: np.sort(rng.choice(width, size=k, replace=False)) for layer, k in sizes.items()}
