"""What a tuning search varies, as an Optuna define-by-run space, and how a trial's config becomes a head.

Selection is either a top fraction of each layer's neurons or a cumulative share of the layer's squared
weight (a conditional parameter, which is why the space is define-by-run). Phase-1 regularisation is
searched over the L2 grid Phase 1 already trained, so a trial never refits Phase 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

WIDTHS = (0, 16, 32, 64, 128)  # 0: a linear Phase-2 head
VARIANTS = ("logits", "logits+values")


class SearchSpace:
    """Callable for ``OptunaSearch(space=...)``; a plain class so Tune can checkpoint the searcher."""

    def __init__(self, layers: Sequence[int], c_grid: Sequence[float]) -> None:
        self.layers = [int(v) for v in layers]
        self.c_grid = [float(v) for v in c_grid]

    def __call__(self, trial: Any) -> None:
        trial.suggest_categorical("selection", ["fraction", "share"])
        if trial.params["selection"] == "fraction":
            trial.suggest_float("salient_fraction", 0.01, 0.3, log=True)
        else:
            trial.suggest_float("salient_share", 0.2, 0.9)
        trial.suggest_categorical("width", list(WIDTHS))
        trial.suggest_categorical("variant", list(VARIANTS))
        trial.suggest_categorical("max_layer", self.layers)
        trial.suggest_float("lr", 3e-4, 1e-2, log=True)
        trial.suggest_float("weight_decay", 1e-4, 1e-1, log=True)
        trial.suggest_float("dropout", 0.0, 0.5)
        trial.suggest_categorical("phase1_c", ["chosen", *self.c_grid])

    def initial_points(self, head_defaults: dict[str, Any]) -> list[dict[str, Any]]:
        """The default head first (the leaderboard shows what tuning adds), then the same head at
        every shallower depth, so the Pareto table has a head for each deepest layer."""
        first = self.default_point(head_defaults)
        return [first] + [{**first, "max_layer": k} for k in reversed(self.layers[:-1])]

    def default_point(self, head_defaults: dict[str, Any]) -> dict[str, Any]:
        """The default head: every layer, the defaults of :class:`NeuronHead`."""
        return {
            "selection": "fraction",
            "salient_fraction": head_defaults["salient_fraction"],
            "width": head_defaults["width"],
            "variant": head_defaults["variant"],
            "max_layer": self.layers[-1],
            "lr": head_defaults["lr"],
            "weight_decay": head_defaults["weight_decay"],
            "dropout": head_defaults["dropout"],
            "phase1_c": "chosen",
        }


def head_params(config: dict[str, Any]) -> tuple[dict[str, Any], float | None]:
    """A trial's config → (:class:`NeuronHead` keyword arguments, Phase-1 C or None for as chosen)."""
    fraction = config.get("salient_fraction") if config.get("selection", "fraction") == "fraction" else None
    params = {
        "salient_fraction": fraction,
        "salient_share": None if fraction is not None else config["salient_share"],
        "width": int(config["width"]),
        "variant": config["variant"],
        "max_layer": int(config["max_layer"]),
        "lr": float(config["lr"]),
        "weight_decay": float(config["weight_decay"]),
        "dropout": float(config["dropout"]),
    }
    c = config.get("phase1_c", "chosen")
    return params, None if c in (None, "chosen") else float(c)
