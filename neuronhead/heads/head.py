"""The two-phase neuron head: Phase-1 probes → salient neurons → frozen extractors → dense head.

After fitting, the head needs only its salient neurons' pooled values (``{layer: (rows, 2, k)}``),
so scoring extracts just those, from layers up to :attr:`NeuronHead.deepest_layer_`.

Stacking guard: the Phase-2 network is trained on *out-of-fold* Phase-1 outputs (each training row
scored by the fold probe that never saw it), while scoring uses the fold-averaged probes. Without
it, Phase 2 would learn to trust in-sample probe outputs that are more confident than on new data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuronhead.heads.baselines import LinearBaseline
from neuronhead.heads.dense import DenseHead, DenseSettings, LazyInputs, fit_dense
from neuronhead.heads.options import SALIENT_FRACTION, VARIANT, WIDTH
from neuronhead.heads.params import Params, StateError
from neuronhead.heads.phase1 import Features, Gathered, LayerProbes, neuron_columns, take
from neuronhead.heads.probes import class_weights, split_of
from neuronhead.heads.salient import select_random, select_salient

VARIANTS = ("logits", "logits+values", "values", "probe", "ensemble")  # ensemble: heads/ensemble.py
SELECTIONS = ("salient", "random")


def _flat(a: np.ndarray) -> np.ndarray:
    """``(rows, ...)`` as ``(rows, columns)``; ``reshape(rows, -1)`` cannot infer the columns of no rows."""
    return a.reshape(len(a), math.prod(a.shape[1:]))


def _kept_values(X: Features, keep: dict[int, np.ndarray]) -> np.ndarray:
    """Every kept column as one float16 block, in the order ``_assemble`` joins them."""
    return np.concatenate([take(X, p, keep[p]).reshape(len(X), -1) for p in sorted(keep)], axis=1)


@dataclass(frozen=True)
class Phase2Options:
    """How :meth:`NeuronHead.fit` runs Phase 2, beyond what the head's parameters say.

    ``memory_budget``: bytes past which the dense head's float32 inputs are made per batch from ``X``
    (:class:`~neuronhead.heads.dense.LazyInputs`) instead of held for every row.
    ``on_epoch(head, epoch, net, improved)`` follows Phase-2 training: the head's extractors are
    ready, so ``head.dense_inputs`` and ``net`` score validation data mid-training (tuning trials
    report to their scheduler from it).
    """

    memory_budget: int | None = None
    on_epoch: Callable[[NeuronHead, int, torch.nn.Module, bool], None] | None = None


_DENSE = DenseSettings()


class NeuronHead(Params):
    """A classifier or regressor over a few salient FFN neurons of the first k layers.

    ``variant="logits"`` (the seed's Phase 2) feeds Phase 2 only the per-layer outputs of the frozen,
    pruned probes; ``"logits+values"`` also feeds the salient neurons' standardized pooled values;
    ``"values"`` feeds only those values (with ``width=0`` and ``salient_fraction=1`` it is the
    all-layer probe on layers ``min_layer..max_layer``); ``"probe"`` has no trained Phase 2: it is one
    layer's frozen Phase-1 probe (``min_layer == max_layer``), kept as a head so that scoring, early
    exit and the artifact treat every candidate of model selection alike. ``selection="random"`` is
    the control: the same number of neurons per layer, drawn at random. Which of these ``fit`` ships
    is chosen per task on data carved from train (:mod:`neuronhead.fitting.select`).
    """

    def __init__(
        self,
        task: str = "classification",
        *,
        salient_fraction: float | None = SALIENT_FRACTION,
        salient_share: float | None = None,
        width: int = WIDTH,
        variant: str = VARIANT,
        max_layer: int | None = None,
        min_layer: int | None = None,
        selection: str = "salient",
        dropout: float = _DENSE.dropout,
        lr: float = _DENSE.lr,
        weight_decay: float = _DENSE.weight_decay,
        heldout: float = 0.1,
        class_weight: str | None = "balanced",
        probe_params: Mapping[str, Any] | None = None,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        self.task = task
        self.salient_fraction = salient_fraction
        self.salient_share = salient_share
        self.width = width
        self.variant = variant
        self.max_layer = max_layer
        self.min_layer = min_layer
        self.selection = selection
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.heldout = heldout
        self.class_weight = class_weight
        self.probe_params = probe_params
        self.seed = seed
        self.progress = progress

    def _check_params(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {self.variant!r}")
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be 'salient' or 'random', not {self.selection!r}")
        if (self.variant == "ensemble") != (type(self).__name__ == "EnsembleHead"):
            raise ValueError("variant 'ensemble' is EnsembleHead's (heads.ensemble.make_head builds either)")

    def make_probes(self) -> LayerProbes:
        params = {"class_weight": self.class_weight, "seed": self.seed, **(self.probe_params or {})}
        return LayerProbes(self.task, progress=self.progress, **params)

    # -- fitting -----------------------------------------------------------------------------
    def fit(
        self,
        X: Features,
        y: np.ndarray,
        rows: np.ndarray | None = None,
        *,
        layers: Sequence[int] | None = None,
        label_names: Sequence[str] | None = None,
        probes: LayerProbes | None = None,
        linear: LayerProbes | None = None,
        phase2: Phase2Options = Phase2Options(),
    ) -> NeuronHead:
        """``X`` is ``(rows, len(layers), 2, width)``, or a :class:`~neuronhead.heads.phase1.Gathered`
        holding at least the neurons the head keeps (then ``probes``, fitted on the full columns, and
        ``layers`` are needed); ``probes`` reuses a fitted Phase 1 (selection, tuning).

        ``linear``: a linear Phase 2 (``variant="values"``, ``width=0``) already trained on the
        standardized values, e.g. the all-layer probe streamed from the store
        (:func:`neuronhead.fitting.stream.fit_flat_probe`). ``phase2``: memory budget and epoch hook.
        """
        self._check_params()
        if not isinstance(X, np.ndarray) and (layers is None or probes is None):
            raise ValueError("gathered features need layers= and a fitted Phase 1 (probes=)")
        layers = list(range(X.shape[1])) if layers is None else list(layers)
        n_out = len(label_names) if label_names else None
        rows = np.arange(len(X)) if rows is None else np.asarray(rows)
        probes = probes or self.make_probes().fit(X, y, rows, n_outputs=n_out, label_names=label_names)
        keep = self.planned_neurons(probes, layers)
        self._adopt_extractors(probes, keep, layers, label_names)
        if self.variant == "probe":
            return self._adopt_probe()
        if linear is not None:
            if self.variant != "values" or self.width != 0:
                raise ValueError("a trained linear Phase 2 fits only variant 'values' with width 0")
            return self.adopt_linear(linear, 2 * self.n_neurons_)
        z = self._phase2_inputs(X, probes, keep, rows, phase2.memory_budget)
        if self.variant == "values" and self.width == 0:
            return self._fit_linear(z, y, rows)
        return self._fit_dense(z, y, rows, phase2.on_epoch)

    def _adopt_extractors(
        self, probes: LayerProbes, keep: dict[int, np.ndarray], layers: list[int], label_names
    ) -> None:
        """The frozen Phase-1 extractors, reduced to the salient neurons ``keep`` (by position)."""
        positions = sorted(keep)
        self.layers_ = [layers[p] for p in positions]
        self.neurons_ = {layers[p]: keep[p] for p in positions}
        self.deepest_layer_ = max(self.layers_)
        self.ffn_width_ = probes.width_
        self.n_outputs_ = probes.n_outputs_
        self.label_names_ = list(label_names) if label_names else None
        self.mean_, self.scale_, self.probe_weight_, self.probe_bias_ = {}, {}, {}, {}
        for p in positions:
            layer, cols = layers[p], neuron_columns(keep[p], probes.width_)
            self.mean_[layer] = probes.standardizer_.mean_[p].reshape(-1)[cols].reshape(2, -1)
            self.scale_[layer] = probes.standardizer_.scale_[p].reshape(-1)[cols].reshape(2, -1)
            self.probe_weight_[layer] = probes.weight_[p][:, cols]
            self.probe_bias_[layer] = probes.bias_[p]
        self.n_neurons_ = int(sum(len(v) for v in self.neurons_.values()))
        self.neuron_fraction_ = self.n_neurons_ / (len(self.layers_) * probes.width_)
        self.probes_ = probes
        self.phase1_ = _phase1_summary(probes)

    def _fit_dense(
        self, z: np.ndarray | LazyInputs, y: np.ndarray, rows: np.ndarray, on_epoch: Callable | None
    ) -> NeuronHead:
        """Train the dense Phase 2 on ``z``, early-stopped on a held-out slice of the rows Phase 1
        scored out of fold (every row with folds, else the rows of its held-out split)."""
        probes = self.probes_
        split = split_of(rows, probes.settings().n_splits)
        usable = np.ones(len(rows), bool) if probes.folds >= 2 else split == 0
        rng = np.random.default_rng(self.seed + 1)
        heldout = (rng.random(len(rows)) < self.heldout) & usable
        train = usable & ~heldout
        self._standardize_inputs(z, train)
        if self.task == "regression":
            self.y_mean_, self.y_scale_ = probes.y_mean_, probes.y_scale_
            target = ((np.asarray(y, np.float64) - self.y_mean_) / self.y_scale_).astype(np.float32)
            cw = None
        else:
            target = np.asarray(y, np.int64)
            cw = class_weights(target[train], self.n_outputs_, self.class_weight)
        settings = DenseSettings(
            task=self.task,
            width=self.width,
            dropout=self.dropout,
            lr=self.lr,
            weight_decay=self.weight_decay,
            seed=self.seed,
        )
        self.net_, self.phase2_ = fit_dense(
            z if usable.all() else z[usable],
            target[usable],
            heldout[usable],
            self.n_outputs_,
            settings,
            cw,
            on_epoch=None if on_epoch is None else (lambda e, net, better: on_epoch(self, e, net, better)),
        )
        return self

    def _phase2_inputs(
        self, X: Features, probes: LayerProbes, keep, rows: np.ndarray, budget: int | None
    ) -> np.ndarray | LazyInputs:
        """What the dense head trains on: Phase-1 outputs out of fold, salient edges only, and/or
        the salient values standardized. When every row's float32 inputs would pass ``budget``, the
        outputs are computed once (rows × layers × classes) and the values kept as gathered float16,
        standardized per batch (the same operations, so the same inputs)."""
        logits = probes.decision(X, keep, out_of_fold=True, rows=rows) if self.variant != "values" else None
        n_in = (0 if logits is None else logits[0].size) + (
            2 * sum(len(v) for v in keep.values()) if "values" in self.variant else 0
        )
        linear = self.variant == "values" and self.width == 0
        if budget is None or linear or len(X) * n_in * 4 <= budget or "values" not in self.variant:
            return self._assemble(logits, probes.standardized(X, keep) if "values" in self.variant else None)
        mean, scale = probes.column_stats(keep)
        n_values = 2 * sum(len(v) for v in keep.values())
        small = isinstance(X, Gathered) or len(X) * n_values * 2 <= budget
        kept = _kept_values(X, keep) if small else None

        def make(idx: np.ndarray) -> np.ndarray:
            # Past the budget even the float16 kept columns are read per batch: rows first (a
            # memory-mapped store reads only those rows), then the kept columns, in the same order.
            raw = kept[idx] if kept is not None else _kept_values(X[idx], keep)
            values = ((raw.astype(np.float32) - mean) / scale).astype(np.float32)
            return self._assemble(None if logits is None else logits[idx], {0: values})

        return LazyInputs(make, len(X), n_in)

    def _standardize_inputs(self, z: np.ndarray | LazyInputs, train: np.ndarray) -> None:
        """Fix ``z_mean_``/``z_scale_`` on the training rows and apply them to ``z`` (in place: ``z``
        is :meth:`fit`'s own array; lazy inputs apply them per batch)."""
        if isinstance(z, LazyInputs):
            self.z_mean_, std = z.moments(np.flatnonzero(train))
        else:
            zt = z[train]  # one copy; wide inputs (an all-layer probe) make every copy count
            self.z_mean_, std = zt.mean(0), zt.std(0)
            del zt
        self.z_scale_ = np.where(std > 1e-6, std, 1.0).astype(np.float32)
        if isinstance(z, LazyInputs):
            z.standardize(self.z_mean_, self.z_scale_)
        else:
            z -= self.z_mean_
            z /= self.z_scale_

    def planned_neurons(self, probes: LayerProbes, layers: Sequence[int]) -> dict[int, np.ndarray]:
        """``{layer position: neuron ids}`` the head will keep on a fitted Phase 1: what a streamed
        fit gathers from the store before fitting it."""
        positions = [p for p, layer in enumerate(layers) if self._uses(layer)]
        if not positions:
            raise ValueError(f"no layer in {self.min_layer}..{self.max_layer} among {list(layers)}")
        if self.variant == "probe" and len(positions) != 1:
            raise ValueError("variant 'probe' is one layer's probe: set min_layer == max_layer")
        keep = select_salient(
            probes.importance_, fraction=self.salient_fraction, share=self.salient_share, layers=positions
        )
        if self.selection == "random":
            keep = select_random({p: len(v) for p, v in keep.items()}, probes.width_, seed=self.seed)
        return keep

    def _uses(self, layer: int) -> bool:
        return (self.max_layer is None or layer <= self.max_layer) and (
            self.min_layer is None or layer >= self.min_layer
        )

    def _adopt_probe(self) -> NeuronHead:
        """Phase 2 of a ``"probe"`` head: the identity on the (fold-averaged) probe's outputs."""
        n = self.n_outputs_
        self.z_mean_ = np.zeros(n, np.float32)
        self.z_scale_ = np.ones(n, np.float32)
        if self.task == "regression":
            self.y_mean_, self.y_scale_ = self.probes_.y_mean_, self.probes_.y_scale_
        net = DenseHead(n, 0, n, self.dropout)
        with torch.no_grad():
            net.net[0].weight.copy_(torch.eye(n))
            net.net[0].bias.zero_()
        self.net_ = net.eval()
        self.phase2_ = {"identity": True}
        return self

    def _fit_linear(self, z: np.ndarray, y: np.ndarray, rows: np.ndarray) -> NeuronHead:
        """A linear Phase 2 on values alone is a logistic (or linear) regression: train it like a
        baseline, with the Phase-1 trainer's L2 grid chosen on held-out rows, not with the dense loop."""
        params = self.linear_params()
        lin = LinearBaseline(self.task, params.pop("label_names"), params)
        return self.adopt_linear(lin.fit(z, y, rows, n_outputs=self.n_outputs_).probe_, z.shape[1])

    def linear_params(self) -> dict[str, Any]:
        """How a linear Phase 2 trains (in memory here, or streamed from the store by the caller)."""
        keys = ("select", "c_grid", "max_epochs", "lr", "batch_size", "patience")
        opts = {k: v for k, v in (self.probe_params or {}).items() if k in keys}
        names = getattr(self, "label_names_", None)
        own = {"label_names": names, "class_weight": self.class_weight, "seed": self.seed}
        return own | opts

    def adopt_linear(self, probe: LayerProbes, n_inputs: int) -> NeuronHead:
        """Make a one-probe :class:`LayerProbes` over the head's ``n_inputs`` standardized values its
        Phase 2: the probe's standardization becomes ``z_mean_``/``z_scale_``, its weights ``net_``."""
        if self.task == "regression":
            self.y_mean_, self.y_scale_ = probe.y_mean_, probe.y_scale_
        self.z_mean_ = probe.standardizer_.mean_.reshape(-1)[:n_inputs]
        self.z_scale_ = probe.standardizer_.scale_.reshape(-1)[:n_inputs]
        net = DenseHead(n_inputs, 0, self.n_outputs_, self.dropout)
        with torch.no_grad():
            net.net[0].weight.copy_(torch.from_numpy(probe.weight_[0][:, :n_inputs]))
            net.net[0].bias.copy_(torch.from_numpy(probe.bias_[0]))
        self.net_ = net.eval()
        self.phase2_ = {"linear": True, "c": float(probe.c_[0]), "epochs": probe.epochs_}
        return self

    def _assemble(self, logits: np.ndarray | None, values: Mapping[int, np.ndarray] | None) -> np.ndarray:
        parts = [] if logits is None else [_flat(logits)]
        if values is not None:
            parts += [values[k] for k in sorted(values)]
        return np.concatenate(parts, axis=1).astype(np.float32)

    # -- scoring -----------------------------------------------------------------------------
    def salient_values(self, X: Features, layers: Sequence[int]) -> dict[int, np.ndarray]:
        """Slice ``{layer: (rows, 2, k)}`` out of a full ``(rows, len(layers), 2, width)`` array."""
        pos = {layer: p for p, layer in enumerate(layers)}
        missing = [layer for layer in self.layers_ if layer not in pos]
        if missing:
            raise ValueError(f"the head needs layers {missing}, which the features do not have")
        return {layer: take(X, pos[layer], idx) for layer, idx in self.neurons_.items()}

    def dense_inputs(self, values: Mapping[int, np.ndarray]) -> np.ndarray:
        """The Phase-2 network's standardized inputs from the salient neurons' pooled values."""
        logits, std = [], {}
        for layer in self.layers_:
            v = (np.asarray(values[layer], np.float32) - self.mean_[layer]) / self.scale_[layer]
            std[layer] = _flat(v)
            logits.append(std[layer] @ self.probe_weight_[layer].T + self.probe_bias_[layer])
        z = self._assemble(
            np.stack(logits, 1) if self.variant != "values" else None,
            std if "values" in self.variant else None,
        )
        return ((z - self.z_mean_) / self.z_scale_).astype(np.float32)

    def decision_values(self, values: Mapping[int, np.ndarray]) -> np.ndarray:
        """Raw outputs ``(rows, outputs)`` from the salient neurons' pooled values."""
        with torch.no_grad():
            return self.net_(torch.from_numpy(self.dense_inputs(values))).numpy()

    def decision(self, X: Features, layers: Sequence[int], budget: int = 2**27) -> np.ndarray:
        """Raw outputs, scored in blocks of at most ``budget`` bytes of float32 Phase-2 inputs."""
        step = max(1, budget // (4 * self.input_width()))
        if len(X) <= step:
            return self.decision_values(self.salient_values(X, layers))
        blocks = range(0, len(X), step)
        return np.concatenate(
            [self.decision_values(self.salient_values(X[i : i + step], layers)) for i in blocks]
        )

    @property
    def salient_head(self) -> NeuronHead:
        """The head whose neurons were chosen as salient: itself (an ensemble: its two-phase member)."""
        return self

    def input_width(self) -> int:
        """Float32 Phase-2 inputs per row: what bounds a scoring block."""
        return len(self.z_mean_)

    def predict_from_decision(self, d: np.ndarray) -> np.ndarray:
        if self.task == "regression":
            return d[:, 0] * self.y_scale_ + self.y_mean_
        return d.argmax(1)

    def predict(self, X: Features, layers: Sequence[int]) -> np.ndarray:
        return self.predict_from_decision(self.decision(X, layers))

    def predict_proba(self, X: Features, layers: Sequence[int]) -> np.ndarray:
        if self.task == "regression":
            raise ValueError("predict_proba is for classification heads")
        return torch.softmax(torch.from_numpy(self.decision(X, layers)), 1).numpy()

    # -- state on disk (safetensors + JSON) ---------------------------------------------------
    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The parameters and what scoring needs to know (JSON-able), and the arrays: per layer its
        salient neurons, their statistics and probe edges; the Phase-2 standardization and network."""
        arrays: dict[str, np.ndarray] = {
            "z_mean": np.asarray(self.z_mean_, np.float32),
            "z_scale": np.asarray(self.z_scale_, np.float32),
        }
        for layer in self.layers_:
            arrays[f"layer{layer}.neurons"] = np.asarray(self.neurons_[layer], np.int64)
            arrays[f"layer{layer}.mean"] = np.asarray(self.mean_[layer], np.float32)
            arrays[f"layer{layer}.scale"] = np.asarray(self.scale_[layer], np.float32)
            arrays[f"layer{layer}.weight"] = np.asarray(self.probe_weight_[layer], np.float32)
            arrays[f"layer{layer}.bias"] = np.asarray(self.probe_bias_[layer], np.float32)
        for name, value in self.net_.state_dict().items():
            arrays[f"net.{name}"] = value.detach().cpu().numpy()
        info = {
            **self._record(),
            "net": {"n_in": int(len(self.z_mean_)), "width": self._net_width(), "dropout": self.dropout},
            "phase2": {k: v for k, v in self.phase2_.items() if k != "history"},
            "phase1": self.phase1_,
            **({"y_mean": self.y_mean_, "y_scale": self.y_scale_} if self.task == "regression" else {}),
        }
        return info, arrays

    def _record(self) -> dict[str, Any]:
        """What every saved head records first: its parameters and what scoring reads (the order of
        the keys is the file's)."""
        params = self.get_params(deep=False)
        del params["progress"]  # how a fit reports, not what the head is
        params["probe_params"] = dict(self.probe_params or {})
        return {
            "task": self.task,
            "params": params,
            "layers": self.layers_,
            "deepest_layer": self.deepest_layer_,
            "ffn_width": self.ffn_width_,
            "n_neurons": self.n_neurons_,
            "neuron_fraction": self.neuron_fraction_,
            "n_outputs": self.n_outputs_,
            "label_names": self.label_names_,
        }

    def _net_width(self) -> int:
        """The network's hidden width: a ``"probe"`` head's Phase 2 is a linear identity."""
        return 0 if self.variant == "probe" else self.width

    @classmethod
    def _from_state(cls, info: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> NeuronHead:
        """The head :meth:`_to_state` described, every array's shape checked against the record
        (:class:`~neuronhead.heads.params.StateError` names the one that is off)."""
        head = cls(**info["params"])
        head.layers_ = [int(x) for x in info["layers"]]
        head.deepest_layer_ = int(info["deepest_layer"])
        head.ffn_width_ = int(info["ffn_width"])
        head.n_outputs_ = int(info["n_outputs"])
        head.label_names_ = info.get("label_names")
        head.n_neurons_ = int(info["n_neurons"])
        head.neuron_fraction_ = float(info["neuron_fraction"])
        head.neurons_, head.mean_, head.scale_, head.probe_weight_, head.probe_bias_ = {}, {}, {}, {}, {}
        need = _shape_checker(arrays)
        for layer in head.layers_:
            idx = need(f"layer{layer}.neurons", None)
            k = len(idx)
            if k and (idx.min() < 0 or idx.max() >= head.ffn_width_):
                raise StateError(f"layer {layer} neuron indices outside 0..{head.ffn_width_ - 1}")
            head.neurons_[layer] = idx
            head.mean_[layer] = need(f"layer{layer}.mean", (2, k))
            head.scale_[layer] = need(f"layer{layer}.scale", (2, k))
            head.probe_weight_[layer] = need(f"layer{layer}.weight", (head.n_outputs_, 2 * k))
            head.probe_bias_[layer] = need(f"layer{layer}.bias", (head.n_outputs_,))
        n_in = int(info["net"]["n_in"])
        head.z_mean_ = need("z_mean", (n_in,))
        head.z_scale_ = need("z_scale", (n_in,))
        net = DenseHead(n_in, int(info["net"]["width"]), head.n_outputs_, float(info["net"]["dropout"]))
        state = {k[4:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("net.")}
        try:
            net.load_state_dict(state)
        except RuntimeError as e:
            raise StateError(f"network weights do not match head.json ({e})") from None
        head.net_ = net.eval()
        head.phase2_ = info.get("phase2", {})
        head.phase1_ = info.get("phase1", {})
        if head.task == "regression":
            head.y_mean_, head.y_scale_ = float(info["y_mean"]), float(info["y_scale"])
        return head


def _shape_checker(arrays: Mapping[str, np.ndarray]) -> Callable[[str, tuple | None], np.ndarray]:
    """``need(name, shape)``: the array, or a :class:`StateError` saying it is missing or misshapen
    (``shape=None``: any shape)."""

    def need(name: str, shape: tuple[int, ...] | None) -> np.ndarray:
        if name not in arrays:
            raise StateError(f"array {name!r} missing")
        if shape is not None and tuple(arrays[name].shape) != shape:
            raise StateError(f"array {name!r} has shape {arrays[name].shape}, expected {shape}")
        return arrays[name]

    return need


def _phase1_summary(probes: LayerProbes) -> dict[str, Any]:
    return {
        "c": [float(v) for v in probes.c_],
        "epochs": probes.epochs_,
        "folds": probes.folds,
        "heldout_loss": [float(v) for v in probes.heldout_loss_],
        "select": probes.select,
        "c_grid": [float(v) for v in probes.c_grid],
        "grid_score": np.round(probes.grid_score_, 4).tolist(),
    }
