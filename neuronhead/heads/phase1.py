"""Phase 1: a linear probe per layer on standardized pooled features, and neuron importance.

Importance of a neuron = L2 norm of its probe weights across outputs and both poolings. Inputs are
standardized first, so a weight measures how much the probe relies on the neuron, not the neuron's
scale. Probes are bagged over folds (a linear model, so the mean of the fold weights is the mean of
the fold outputs), and each row's out-of-fold output is kept available for Phase 2.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from neuronhead.evaluation.metrics import metrics_from_confusion
from neuronhead.heads.options import ProbeSettings
from neuronhead.heads.params import Params
from neuronhead.heads.probes import (
    ProbeResult,
    ProbeTrainer,
    batches,
    class_weights,
    split_of,
)
from neuronhead.heads.standardize import Standardizer


def neuron_columns(idx: np.ndarray, width: int) -> np.ndarray:
    """Flat feature columns (mean block, then max block) of the given neurons."""
    idx = np.asarray(idx, dtype=np.int64)
    return np.concatenate([idx, idx + width])


class Gathered:
    """Some neurons' pooled values for every row, in place of the full ``(rows, layers, 2, width)``.

    ``blocks[position] = (neuron ids, values (rows, 2, k))``. Heads, Phase-1 decisions and scoring
    take either; a streamed fit gathers only the salient neurons (``rows × Σk``), never every column.
    """

    def __init__(self, blocks: Mapping[int, tuple[np.ndarray, np.ndarray]], n_rows: int) -> None:
        self.blocks = {int(p): (np.asarray(ids), v) for p, (ids, v) in blocks.items()}
        self.n_rows = n_rows
        self._col = {p: {int(j): c for c, j in enumerate(ids)} for p, (ids, _) in self.blocks.items()}

    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, rows) -> Gathered:
        """The same neurons for a subset of rows (a slice, mask or index array)."""
        blocks = {p: (ids, v[rows]) for p, (ids, v) in self.blocks.items()}
        n = len(next(iter(blocks.values()))[1]) if blocks else len(np.arange(self.n_rows)[rows])
        return Gathered(blocks, n)

    def take(self, position: int, idx: np.ndarray) -> np.ndarray:
        if position not in self.blocks:
            raise ValueError(f"layer position {position} was not gathered")
        try:
            cols = [self._col[position][int(j)] for j in idx]
        except KeyError as exc:
            raise ValueError(f"neuron {exc.args[0]} of layer position {position} was not gathered") from None
        return self.blocks[position][1][:, :, cols]


Features = np.ndarray | Gathered  # every row's columns, or some neurons' columns


def take(X: Features, position: int, idx: np.ndarray) -> np.ndarray:
    """Pooled values ``(rows, 2, len(idx))`` of some neurons of one layer position."""
    if isinstance(X, Gathered):
        return X.take(position, idx)
    return X[:, position][:, :, np.asarray(idx)]


def grid_scores(conf: np.ndarray, metric: str, label_names: Sequence[str] | None = None) -> np.ndarray:
    """``(layers, grid)`` values of a classification metric from ``(grid, layers, C, C)`` counts."""
    G, L, C, _ = conf.shape
    names = list(label_names) if label_names else [str(i) for i in range(C)]
    out = np.empty((L, G))
    for g in range(G):
        for layer in range(L):
            values = metrics_from_confusion(conf[g, layer], names)
            if metric not in values:
                raise ValueError(f"cannot select Phase-1 strengths by {metric!r}; one of {sorted(values)}")
            out[layer, g] = values[metric]
    return out


_SETTINGS = ProbeSettings()  # the one definition of the training parameters' defaults and meaning
# The arrays of a ProbeResult, as a saved Phase 1 holds them.
RESULT_ARRAYS = (
    "grid_weight",
    "grid_bias",
    "grid_loss",
    "grid_score",
    "c",
    "heldout_loss",
    "fold_weight",
    "fold_bias",
)


class LayerProbes(Params):
    """All layers' probes, trained together. ``X`` is ``(rows, layers, 2, width)`` (any float dtype).

    The training parameters are :class:`~neuronhead.heads.options.ProbeSettings`' fields (their
    defaults and meaning are defined there); ``max_memory_gb`` and ``progress`` only say how the
    in-memory fit runs.
    """

    def __init__(
        self,
        task: str = _SETTINGS.task,
        *,
        folds: int = _SETTINGS.folds,
        c_grid: Sequence[float] = _SETTINGS.c_grid,
        l1: float = _SETTINGS.l1,
        lr: float = _SETTINGS.lr,
        batch_size: int = _SETTINGS.batch_size,
        max_epochs: int = _SETTINGS.max_epochs,
        patience: int = _SETTINGS.patience,
        class_weight: str | None = _SETTINGS.class_weight,
        seed: int = _SETTINGS.seed,
        select: str = _SETTINGS.select,
        max_memory_gb: float = 8.0,
        progress: bool = False,
    ) -> None:
        self.task = task
        self.folds = folds
        self.c_grid = c_grid
        self.l1 = l1
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.class_weight = class_weight
        self.seed = seed
        self.select = select
        self.max_memory_gb = max_memory_gb
        self.progress = progress

    def settings(self) -> ProbeSettings:
        """The training parameters as the trainer takes them (every engine builds its trainer from it)."""
        return ProbeSettings(task=self.task, **(self.training_params() | {"c_grid": tuple(self.c_grid)}))

    def training_params(self) -> dict[str, Any]:
        """The parameters that shape the probes (:class:`ProbeSettings`' fields but the task)."""
        return {f.name: getattr(self, f.name) for f in fields(ProbeSettings) if f.name != "task"}

    def fit_targets(
        self, y: np.ndarray, n_outputs: int | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """What a fit learns of the labels before training, whichever engine trains (in memory,
        streamed, Ray Train workers): ``n_outputs_``, and ``y_mean_``/``y_scale_`` that standardize a
        regression target. Returns the targets the trainer sees (standardized float32 values, or
        int64 classes) and the class weights (``None`` for regression or ``class_weight=None``)."""
        if self.task == "regression":
            y = np.asarray(y, dtype=np.float64)
            self.y_mean_, self.y_scale_ = float(y.mean()), float(y.std() or 1.0)
            self.n_outputs_ = 1
            return ((y - self.y_mean_) / self.y_scale_).astype(np.float32), None
        y = np.array(y, dtype=np.int64)
        self.n_outputs_ = int(n_outputs or y.max() + 1)
        return y, class_weights(y, self.n_outputs_, self.class_weight)

    def target_standardization(self) -> tuple[float, float] | None:
        """``(mean, scale)`` of a regression target after :meth:`fit_targets`; ``None`` for classes."""
        return (self.y_mean_, self.y_scale_) if self.task == "regression" else None

    # -- fitting -----------------------------------------------------------------------------
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        rows: np.ndarray | None = None,
        *,
        n_outputs: int | None = None,
        label_names: Sequence[str] | None = None,
        standardizer: Standardizer | None = None,
    ) -> LayerProbes:
        if X.ndim != 4 or X.shape[2] != 2:
            raise ValueError(f"X must be (rows, layers, 2, width), got {X.shape}")
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        s = self.settings()
        n, L, _, W = X.shape
        self.n_layers_, self.width_ = L, W
        self.standardizer_ = standardizer or Standardizer().fit(X)
        self._mean = torch.from_numpy(self.standardizer_.mean_.reshape(L, 2 * W))
        self._scale = torch.from_numpy(self.standardizer_.scale_.reshape(L, 2 * W))
        target, cw = self.fit_targets(y, n_outputs)
        y_t = torch.from_numpy(target)
        rows = np.arange(n) if rows is None else np.asarray(rows)
        self.split_ = split_of(rows, s.n_splits)
        split_t = torch.from_numpy(self.split_)
        trainer = ProbeTrainer(s, L, 2 * W, self.n_outputs_, n, class_weight=cw)
        held_rows = np.arange(n) if self.folds >= 2 else np.flatnonzero(self.split_ == 0)
        # Standardize once into float32 when that fits the budget (batches are then plain gathers);
        # otherwise convert batch by batch from the stored dtype.
        fits = n * L * 2 * W * 4 <= self.max_memory_gb * 2**30
        data = self._standardize_all(X) if fits else X
        prep = (lambda xb: torch.from_numpy(xb)) if fits else self._prep
        rng = np.random.default_rng(self.seed)
        bar = tqdm(total=s.max_epochs, desc="phase 1 probes", unit="epoch", disable=not self.progress)
        while True:
            for idx in batches(n, s.batch_size, rng):
                idx.sort()  # sorted gathers are faster; the batch's content is still random
                trainer.train_batch(prep(data[idx]), y_t[idx], split_t[idx])
            for idx in batches(len(held_rows), 4096, None):
                r = held_rows[idx]
                trainer.eval_batch(prep(data[r]), y_t[r], split_t[r])
            go_on = trainer.end_epoch()
            bar.update(1)
            bar.set_postfix(heldout_loss=f"{trainer.history[-1]:.4f}")
            if not go_on:
                break
        bar.close()
        scores = None
        if self.task == "classification" and s.select != "loss":
            for idx in batches(len(held_rows), 4096, None):
                r = held_rows[idx]
                trainer.count_batch(prep(data[r]), y_t[r], split_t[r])
            scores = grid_scores(trainer.conf.numpy(), s.select, label_names)
        self.set_result(trainer.result(scores), self.split_)
        return self

    def set_result(
        self, res: ProbeResult, split: np.ndarray, standardizer: Standardizer | None = None
    ) -> LayerProbes:
        """Adopt a finished fit: in-process, joined from layer groups (streamed, Ray Train workers) with
        their ``standardizer``, or read back from disk. Layers, outputs and width are the weights'."""
        if standardizer is not None:
            self.standardizer_ = standardizer
        _, self.n_layers_, self.n_outputs_, features = res.fold_weight.shape
        self.width_ = features // 2
        L, W = self.n_layers_, self.width_
        self._mean = torch.tensor(self.standardizer_.mean_.reshape(L, 2 * W))
        self._scale = torch.tensor(self.standardizer_.scale_.reshape(L, 2 * W))
        self.split_ = split
        self.fold_weight_, self.fold_bias_ = res.fold_weight, res.fold_bias
        self.weight_ = res.fold_weight.mean(0)  # (L, C, 2W)
        self.bias_ = res.fold_bias.mean(0)
        self.c_, self.heldout_loss_, self.grid_loss_ = res.c, res.heldout_loss, res.grid_loss
        self.grid_score_, self.grid_weight_, self.grid_bias_ = res.grid_score, res.grid_weight, res.grid_bias
        self.epochs_, self.history_ = res.epochs, res.history
        w = self.weight_.reshape(L, self.n_outputs_, 2, W)
        self.importance_ = np.sqrt(np.square(w).sum(axis=(1, 2)))  # (L, W)
        return self

    def note_workers(self, layer_groups: list[list[int]], resumed_from: int | None) -> LayerProbes:
        """Record how a Ray Train fit ran: the layers each worker owned, and the epoch a restarted
        worker group resumed from (``None``: never restarted)."""
        self.layer_groups_, self.resumed_from_ = layer_groups, resumed_from
        return self

    # -- state on disk (safetensors + JSON) ---------------------------------------------------
    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The parameters and the fit's summary (JSON-able), and the arrays: the statistics, each
        row's fold and the probes at every strength (so :meth:`with_c` works on a loaded Phase 1)."""
        std = self.standardizer_
        arrays = {"mean": std.mean_, "scale": std.scale_, "split": self.split_}
        arrays |= {k: getattr(self, f"{k}_") for k in RESULT_ARRAYS}
        info = {
            "task": self.task,
            "params": self.training_params() | {"c_grid": list(self.c_grid)},
            "n_layers": self.n_layers_,
            "width": self.width_,
            "n_outputs": self.n_outputs_,
            "epochs": self.epochs_,
            "history": self.history_,
            "y_mean": getattr(self, "y_mean_", None),
            "y_scale": getattr(self, "y_scale_", None),
        }
        return info, arrays

    @classmethod
    def _from_state(cls, info: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> LayerProbes:
        """The probes :meth:`_to_state` described; raises ``ValueError`` when the arrays' shapes
        disagree with the record."""
        params = dict(info["params"])
        params["c_grid"] = tuple(params["c_grid"])
        probes = cls(info["task"], **params)
        if info.get("y_mean") is not None:
            probes.y_mean_, probes.y_scale_ = info["y_mean"], info["y_scale"]
        res = ProbeResult(
            **{k: arrays[k] for k in RESULT_ARRAYS}, epochs=info["epochs"], history=info["history"]
        )
        std = Standardizer._from_state({}, {"mean": arrays["mean"], "scale": arrays["scale"]})
        probes.set_result(res, arrays["split"], std)
        got = (probes.n_layers_, probes.width_, probes.n_outputs_)
        if got != (info["n_layers"], info["width"], info["n_outputs"]):
            raise ValueError(f"the probes' weights are {got} (layers, width, outputs), not as recorded")
        return probes

    def with_c(self, c: float | None) -> LayerProbes:
        """A copy that uses one L2 strength of the grid for every layer (``None``: as chosen).

        The whole grid was trained in the same pass, so a tuning trial can vary Phase-1
        regularisation without refitting Phase 1.
        """
        if c is None:
            return self
        g = int(np.argmin(np.abs(np.log(np.asarray(self.c_grid)) - np.log(c))))
        if not np.isclose(self.c_grid[g], c):
            raise ValueError(f"C={c} is not in the fitted grid {self.c_grid}")
        other = copy.copy(self)
        L = self.n_layers_
        res = ProbeResult(
            fold_weight=np.ascontiguousarray(self.grid_weight_[:, g]),
            fold_bias=np.ascontiguousarray(self.grid_bias_[:, g]),
            c=np.full(L, self.c_grid[g]),
            heldout_loss=self.grid_loss_[:, g],
            grid_loss=self.grid_loss_,
            grid_score=self.grid_score_,
            grid_weight=self.grid_weight_,
            grid_bias=self.grid_bias_,
            epochs=self.epochs_,
            history=self.history_,
        )
        return other.set_result(res, self.split_)

    def _standardize_all(self, X: np.ndarray, chunk_rows: int = 4096) -> np.ndarray:
        out = np.empty((len(X), X.shape[1], 2 * X.shape[3]), dtype=np.float32)
        for i in range(0, len(X), chunk_rows):
            out[i : i + chunk_rows] = self._prep(X[i : i + chunk_rows]).numpy()
        return out

    def _prep(self, xb: np.ndarray, layers: Sequence[int] | None = None) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(xb)).float().flatten(2)
        if layers is None:
            return (x - self._mean) / self._scale
        return (x - self._mean[layers]) / self._scale[layers]

    # -- outputs -----------------------------------------------------------------------------
    def ranking(self) -> list[tuple[int, int, float]]:
        """``(layer position, neuron, importance)``, most important first within each layer."""
        out = []
        for layer, imp in enumerate(self.importance_):
            for j in np.argsort(-imp, kind="stable"):
                out.append((layer, int(j), float(imp[j])))
        return out

    def column_stats(self, neurons: Mapping[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and scale of the chosen neurons' columns, layer by layer in sorted order (each layer's
        mean block, then its max block): the columns :meth:`standardized` gives, side by side."""
        cols = {layer: neuron_columns(neurons[layer], self.width_) for layer in sorted(neurons)}
        mean = [self._mean[layer].numpy()[c] for layer, c in cols.items()]
        scale = [self._scale[layer].numpy()[c] for layer, c in cols.items()]
        return np.concatenate(mean), np.concatenate(scale)

    def standardized(
        self, X: np.ndarray | Gathered, neurons: Mapping[int, np.ndarray]
    ) -> dict[int, np.ndarray]:
        """Standardized pooled values of chosen neurons: ``{layer: (rows, 2·k)}``."""
        out = {}
        for layer, idx in neurons.items():
            cols = neuron_columns(idx, self.width_)
            mean = self._mean[layer].numpy()[cols]
            scale = self._scale[layer].numpy()[cols]
            flat = take(X, layer, idx).reshape(len(X), -1)  # mean block, then max block: as cols
            out[layer] = ((flat.astype(np.float32) - mean) / scale).astype(np.float32)
        return out

    def decision(
        self,
        X: Features,
        neurons: Mapping[int, np.ndarray] | None = None,
        *,
        out_of_fold: bool = False,
        rows: np.ndarray | None = None,
        chunk_rows: int = 8192,
    ) -> np.ndarray:
        """Per-layer probe outputs ``(rows, layers used, outputs)``.

        ``neurons`` keeps only those neurons' edges (the rest are dropped); ``out_of_fold`` gives
        each training row the output of the fold probe that did not see it (``rows`` gives the row
        numbers; default: the rows of ``fit``).
        """
        all_splits = self.split_ if rows is None else split_of(rows, self.settings().n_splits)
        layers = sorted(neurons) if neurons is not None else list(range(self.n_layers_))
        keep = {i: np.arange(self.width_) for i in layers} if neurons is None else dict(neurons)
        out = np.empty((len(X), len(layers), self.n_outputs_), dtype=np.float32)
        for c0 in range(0, len(X), chunk_rows):
            c1 = min(c0 + chunk_rows, len(X))
            values = self.standardized(X[c0:c1], keep)
            for pos, layer in enumerate(layers):
                cols = neuron_columns(keep[layer], self.width_)
                if not out_of_fold:
                    w = self.weight_[layer][:, cols]
                    out[c0:c1, pos] = values[layer] @ w.T + self.bias_[layer]
                    continue
                split = all_splits[c0:c1]
                for k in range(max(1, self.folds)):
                    sel = split == k if self.folds >= 2 else slice(None)
                    w = self.fold_weight_[k, layer][:, cols]
                    out[c0:c1][sel, pos] = values[layer][sel] @ w.T + self.fold_bias_[k, layer]
        return out

    def predict_layer(self, X: np.ndarray) -> np.ndarray:
        """Each layer's own prediction ``(rows, layers)``: a class id, or a value in target units."""
        return self.predict_from_layer_decisions(self.decision(X))

    def predict_from_layer_decisions(self, d: np.ndarray) -> np.ndarray:
        """:meth:`predict_layer` from :meth:`decision`'s ``(rows, layers, outputs)``."""
        if self.task == "regression":
            return d[..., 0] * self.y_scale_ + self.y_mean_
        return d.argmax(-1)
