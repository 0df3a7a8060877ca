"""The head's knobs that ``fit`` and ``run`` take as flags, declared once.

Each field defaults to ``None``, "the estimator's own default", so a run records only what was
asked for (its stage keys and saved parameters stay those of a run that never named the option);
``--help`` shows the estimator's value, which is written once: here (``SALIENT_FRACTION``,
``WIDTH``) or in :class:`ProbeSettings` for Phase 1. No torch here: the CLI reads this module to
build its flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neuronhead.spine import opt

# Inverse L2 strengths in scikit-learn's convention (loss summed over rows + ½‖w‖²/C), so a value
# means the same for 300 or 300,000 rows; on standardized pooled features the best lies near 1e-4..1e-3.
DEFAULT_C_GRID = (1e-4, 3e-4, 1e-3, 3e-3)


@dataclass(frozen=True)
class ProbeSettings:
    """How Phase 1 trains: the one definition of :class:`~neuronhead.heads.phase1.LayerProbes`'
    training parameters, their defaults and meaning (the estimator's signature takes its defaults
    from here, its saved record and the trainer's settings its names). ``folds=1`` trains one probe
    per layer with a 10% held-out slice."""

    task: str = "classification"
    folds: int = 3
    c_grid: tuple[float, ...] = DEFAULT_C_GRID
    l1: float = 0.0
    lr: float = 3e-3
    batch_size: int = 512
    max_epochs: int = 15  # the learning rate decays to zero over these (cosine)
    patience: int = 3
    class_weight: str | None = None  # None or "balanced"
    seed: int = 0
    # How each layer's L2 strength is chosen: "loss" (held-out loss), or a classification metric
    # (e.g. "macro_recall") measured on the out-of-fold predictions of every strength.
    select: str = "loss"

    @property
    def n_splits(self) -> int:
        return self.folds if self.folds >= 2 else 10


SALIENT_FRACTION = 0.05  # of each layer's neurons, ranked by the L2 norm of their probe weights
WIDTH = 32  # Phase 2's hidden units
VARIANT = "logits+values"  # Phase 2's inputs: the probes' outputs and the salient neurons' values
_PHASE1 = ProbeSettings()


@dataclass(frozen=True)
class HeadOptions:
    """What ``neuronhead fit`` and ``neuronhead run`` may set on the head (``None``: its default)."""

    salient_fraction: float | None = opt(
        None,
        "top fraction of neurons per layer, by the L2 norm of their probe weights",
        shown=SALIENT_FRACTION,
    )
    salient_share: float | None = opt(
        None, "or: keep each layer's neurons until they hold this share of its squared probe weight"
    )
    width: int | None = opt(None, "Phase-2 hidden width (0: linear)", shown=WIDTH)
    variant: str | None = opt(
        None,
        "Phase-2 inputs of the head; ensemble: the all-layer probe and a logits+values head, their "
        "probabilities averaged (what --prefer robust ships when no variant is given)",
        ["logits", "logits+values", "ensemble"],
    )
    max_layer: int | None = opt(None, "use only layers 0..K (scoring stops there)")
    folds: int | None = opt(None, "Phase-1 folds for out-of-fold stacking", shown=_PHASE1.folds)
    phase1_epochs: int | None = opt(None, "at most this many Phase-1 epochs", shown=_PHASE1.max_epochs)
    class_weight: str | None = opt(
        None,
        "balanced: classes weigh equally, which macro-averaged metrics reward",
        ["balanced", "none"],
        shown="balanced",
    )
    seed: int = opt(0, "seed of every random choice")

    def head_params(self) -> dict[str, Any]:
        """The :class:`~neuronhead.heads.head.NeuronHead` parameters these options set (and only
        those: the rest keep the estimator's defaults)."""
        named = {
            "salient_fraction": self.salient_fraction,
            "salient_share": self.salient_share,
            "width": self.width,
            "variant": self.variant,
            "max_layer": self.max_layer,
            "class_weight": self.class_weight,
        }
        params: dict[str, Any] = {k: v for k, v in named.items() if v is not None}
        params["seed"] = self.seed
        if self.class_weight == "none":
            params["class_weight"] = None
        if self.salient_share is not None:
            params["salient_fraction"] = None
        probe = {"folds": self.folds, "max_epochs": self.phase1_epochs}
        if any(v is not None for v in probe.values()):
            params["probe_params"] = {k: v for k, v in probe.items() if v is not None}
        return params
