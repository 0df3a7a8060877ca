"""One tuning trial: Phase 2 on the shared Phase 1, scored on validation features after every epoch.

The data (cached features and the fitted Phase 1) reach the trial through Ray's object store, put
there once by the search; a trial only selects neurons and trains the small Phase-2 network, so it
costs seconds. It reports after every Phase-2 epoch so ASHA can stop unpromising trials early; the
metric reported is that of the best epoch so far (the one the head would keep if stopped now).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuronhead.evaluation.metrics import headline, task_metrics
from neuronhead.fitting.mapped import MappedFeatures
from neuronhead.heads.head import NeuronHead, Phase2Options
from neuronhead.heads.phase1 import LayerProbes
from neuronhead.tune.space import head_params

SCORE = "score"  # what Tune maximises: the headline metric, negated for errors (mse, mae)


@dataclass
class TrialData:
    """Everything a trial reads. Features are a decoded store mapped from disk (every trial maps the
    same file) or, for small data, arrays shared read-only from the object store."""

    X: np.ndarray | MappedFeatures  # (rows, layers, 2, width), float16
    y: np.ndarray
    rows: np.ndarray
    Xv: np.ndarray | MappedFeatures
    yv: np.ndarray
    layers: list[int]
    label_names: list[str] | None
    probes: LayerProbes
    task: str
    metric: str
    head_defaults: dict[str, Any]
    threads: int = 1
    phase2_bytes: int | None = None  # past this, Phase-2 inputs are made per batch (NeuronHead.fit)


def features(X: np.ndarray | MappedFeatures) -> np.ndarray:
    return X.array() if isinstance(X, MappedFeatures) else X


def build_head(config: dict[str, Any], data: TrialData, on_epoch=None) -> NeuronHead:
    """The head a config describes, fitted on the shared Phase 1 (the search's refits use this too)."""
    params, c = head_params(config)
    head = NeuronHead(data.task, **{**data.head_defaults, **params})
    return head.fit(
        features(data.X),
        data.y,
        data.rows,
        layers=data.layers,
        label_names=data.label_names,
        probes=data.probes.with_c(c),
        phase2=Phase2Options(memory_budget=data.phase2_bytes, on_epoch=on_epoch),
    )


def val_metrics(head: NeuronHead, data: TrialData, decision: np.ndarray) -> dict[str, float]:
    return task_metrics(data.task, data.yv, head.predict_from_decision(decision), data.label_names)


def run_trial(config: dict[str, Any], data: TrialData) -> None:
    """The Ray Tune function trainable."""
    from ray import tune

    torch.set_num_threads(data.threads)
    state: dict[str, Any] = {}

    def on_epoch(head: NeuronHead, epoch: int, net: torch.nn.Module, improved: bool) -> None:
        if "z" not in state:
            values = head.salient_values(features(data.Xv), data.layers)
            state["z"] = torch.from_numpy(head.dense_inputs(values))
        if improved or "metrics" not in state:
            with torch.no_grad():
                state["metrics"] = val_metrics(head, data, net(state["z"]).numpy())
                state["epoch"] = epoch
        m = state["metrics"]
        tune.report(
            {
                SCORE: headline(m, data.metric),
                **{f"val_{k}": v for k, v in m.items()},
                "best_epoch": state["epoch"],
                "deepest_layer": head.deepest_layer_,
                "n_neurons": head.n_neurons_,
                "neuron_fraction": head.neuron_fraction_,
            }
        )

    build_head(config, data, on_epoch=on_epoch)
