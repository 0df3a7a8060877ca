"""The ensemble head: the all-layer probe and the two-phase head, their probabilities averaged.

Why: on texts from topics or collections a model was not fitted on (``bench/shift.py``), the
strongly regularised all-layer probe and the sparse two-phase head fail on different texts, and the
mean of their probabilities beats either alone. Both members share one Phase 1 and read layers
``0..max_layer`` of one forward pass, so the ensemble costs what its deeper member costs: the model
runs as far as the deepest member needs, and scoring reads the union of the members' neurons.

The members are :class:`~neuronhead.heads.head.NeuronHead` s built from the ensemble's own
parameters: the all-layer probe (``variant="values"``, ``width=0``, every neuron) and the head those
parameters describe with ``variant="logits+values"`` (``salient_fraction``, ``width`` … keep their
meaning for it). Classification: the decision is the log of the members' mean probability, so
``softmax(decision)`` is that mean. Regression: the mean of the members' outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from neuronhead.heads.head import NeuronHead, Phase2Options
from neuronhead.heads.params import StateError
from neuronhead.heads.phase1 import Features, LayerProbes

ALL_LAYER = {"variant": "values", "width": 0, "salient_fraction": 1.0, "salient_share": None}
HEAD = {"variant": "logits+values"}
_PHASE2 = Phase2Options()


class EnsembleHead(NeuronHead):
    """The mean of the all-layer probe's and the two-phase head's probabilities (see the module).

    Its parameters are :class:`NeuronHead`'s with ``variant="ensemble"``; the fitted members are
    ``members_``, and ``neurons_``/``layers_`` are what scoring reads for them together.
    """

    def member_params(self) -> list[dict[str, Any]]:
        """Each member's :class:`NeuronHead` parameters: the ensemble's, with the member's kind."""
        shared = {k: v for k, v in self.get_params(deep=False).items() if k != "variant"}
        return [{**shared, **ALL_LAYER}, {**shared, **HEAD}]

    def member_heads(self) -> list[NeuronHead]:
        return [NeuronHead(**p) for p in self.member_params()]

    def planned_neurons(self, probes: LayerProbes, layers: Sequence[int]) -> dict[int, np.ndarray]:
        """The union of what the members keep, by layer position."""
        return union_neurons(m.planned_neurons(probes, layers) for m in self.member_heads())

    def fit(self, X: Features, y: np.ndarray, rows: np.ndarray | None = None, *, layers=None,
            label_names=None, probes: LayerProbes | None = None, linear=None,
            phase2=_PHASE2) -> EnsembleHead:  # fmt: skip
        """Fit both members on one Phase 1 (``probes``, else fitted here on ``X``); ``X`` as for
        :meth:`NeuronHead.fit` (full arrays: the all-layer member reads every neuron)."""
        self._check_params()
        if linear is not None:
            raise ValueError("an ensemble trains its own members; pass no linear= Phase 2")
        layers = list(range(X.shape[1])) if layers is None else list(layers)
        rows = np.arange(len(X)) if rows is None else np.asarray(rows)
        n_out = len(label_names) if label_names else None
        probes = probes or self.make_probes().fit(X, y, rows, n_outputs=n_out, label_names=label_names)
        fit = {"layers": layers, "label_names": label_names, "probes": probes, "phase2": phase2}
        return self.adopt([m.fit(X, y, rows, **fit) for m in self.member_heads()])

    def adopt(self, members: Sequence[NeuronHead]) -> EnsembleHead:
        """Take fitted members (on one Phase 1) as this ensemble's; what scoring reads is their union."""
        first = members[0]
        self.members_ = list(members)
        self.neurons_ = union_neurons(m.neurons_ for m in members)
        self.layers_ = sorted(self.neurons_)
        self.deepest_layer_ = max(self.layers_)
        self.ffn_width_, self.n_outputs_ = first.ffn_width_, first.n_outputs_
        self.label_names_ = first.label_names_
        self.n_neurons_ = int(sum(len(v) for v in self.neurons_.values()))
        self.neuron_fraction_ = self.n_neurons_ / (len(self.layers_) * self.ffn_width_)
        self.probes_ = getattr(first, "probes_", None)
        self.phase1_ = first.phase1_
        self.phase2_ = {"members": [m.phase2_ for m in members]}
        if self.task == "regression":
            self.y_mean_, self.y_scale_ = first.y_mean_, first.y_scale_
        # where each member's neurons sit in the union, per layer: what scoring and explaining slice by
        self.member_positions_ = [
            {layer: np.searchsorted(self.neurons_[layer], m.neurons_[layer]) for layer in m.layers_}
            for m in members
        ]
        self.mean_, self.scale_, self.probe_weight_, self.probe_bias_ = self._union_stats()
        return self

    def _union_stats(self) -> tuple[dict, dict, dict, dict]:
        """Each union neuron's Phase-1 mean and scale ``(2, k)`` and probe edges ``(outputs, 2k)``, and
        each layer's probe bias, from whichever member keeps it (they share one Phase 1, so every
        member that keeps a neuron holds the same numbers): what reports and explanations read."""
        mean, scale, weight, bias = {}, {}, {}, {}
        for layer, idx in self.neurons_.items():
            k = len(idx)
            mean[layer], scale[layer] = np.zeros((2, k), np.float32), np.ones((2, k), np.float32)
            weight[layer] = np.zeros((self.n_outputs_, 2, k), np.float32)
            for m, positions in zip(self.members_, self.member_positions_, strict=True):
                if layer in positions:
                    pos = positions[layer]
                    mean[layer][:, pos], scale[layer][:, pos] = m.mean_[layer], m.scale_[layer]
                    w = np.asarray(m.probe_weight_[layer]).reshape(self.n_outputs_, 2, -1)
                    weight[layer][:, :, pos] = w
                    bias[layer] = np.asarray(m.probe_bias_[layer])
            weight[layer] = weight[layer].reshape(self.n_outputs_, 2 * k)
        return mean, scale, weight, bias

    @property
    def salient_head(self) -> NeuronHead:
        """The member that chose its neurons (the two-phase head): what reports show as the model's
        salient neurons, since the all-layer member reads every neuron alike."""
        return self.members_[1]

    def member_decisions(self, values: Mapping[int, np.ndarray]) -> list[np.ndarray]:
        """Each member's raw outputs from the union's pooled values ``{layer: (rows, 2, k)}``."""
        out = []
        for m, pos in zip(self.members_, self.member_positions_, strict=True):
            out.append(m.decision_values({layer: values[layer][:, :, idx] for layer, idx in pos.items()}))
        return out

    def decision_values(self, values: Mapping[int, np.ndarray]) -> np.ndarray:
        """Log of the members' mean probability (classification), their mean output (regression)."""
        d = self.member_decisions(values)
        if self.task == "regression":
            return np.mean(d, axis=0).astype(np.float32)
        proba = torch.stack([torch.softmax(torch.from_numpy(x), 1) for x in d]).mean(0)
        return torch.log(proba).numpy()

    def input_width(self) -> int:
        return sum(m.input_width() for m in self.members_)

    # -- state on disk ----------------------------------------------------------------------
    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Each member's record and arrays (prefixed ``member{i}.``) under the ensemble's own record."""
        infos, arrays = [], {}
        for i, m in enumerate(self.members_):
            info, a = m._to_state()
            infos.append(info)
            arrays |= {f"member{i}.{k}": v for k, v in a.items()}
        info = {**self._record(), "members": infos, "phase1": self.phase1_}
        return info, arrays

    @classmethod
    def _from_state(cls, info: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> EnsembleHead:
        members_info = info.get("members")
        if not isinstance(members_info, list) or len(members_info) != 2:
            raise StateError("an ensemble record needs its two members")
        members = []
        for i, m in enumerate(members_info):
            prefix = f"member{i}."
            own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            members.append(NeuronHead._from_state(m, own))
        head = cls(**info["params"]).adopt(members)
        if head.layers_ != [int(x) for x in info["layers"]] or head.n_neurons_ != int(info["n_neurons"]):
            raise StateError("the members' neurons do not match the ensemble's record")
        return head


def union_neurons(maps: Iterable[Mapping[int, np.ndarray]]) -> dict[int, np.ndarray]:
    """``{layer: neuron ids}`` of several heads (or plans) joined: the sorted union per layer."""
    out: dict[int, np.ndarray] = {}
    for m in maps:
        for layer, ids in m.items():
            out[layer] = np.union1d(out.get(layer, np.array([], np.int64)), ids)
    return dict(sorted(out.items()))


def make_head(task: str = "classification", **params: Any) -> NeuronHead:
    """The estimator ``params`` describe: an :class:`EnsembleHead` for ``variant="ensemble"``."""
    cls = EnsembleHead if params.get("variant") == "ensemble" else NeuronHead
    return cls(task, **params)
