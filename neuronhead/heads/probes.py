"""The Phase-1 training loop: every layer's probe, for every fold and L2 strength, as one tensor.

One linear probe per (fold, L2 strength, layer) is trained at once: the weights live in a single
``(layers, features, groups·outputs)`` tensor, so a step is one batched matmul (``torch.bmm``) over the
layers. Folds give out-of-fold outputs for Phase 2 (no stacking overfit), the L2 grid is searched in
the same pass, and each probe keeps its best epoch on its own held-out rows (early stopping).

The loop only sees batches ``(x, y, split)``: the in-process fit, Ray Train workers and tuning trials
all drive the same :class:`ProbeTrainer`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from neuronhead.heads.options import ProbeSettings


def split_of(rows: np.ndarray, n_splits: int) -> np.ndarray:
    """A stable pseudo-random split per row number (the same row always lands in the same fold)."""
    h = (np.asarray(rows, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    return (h % np.uint64(n_splits)).astype(np.int64)


def class_weights(y: np.ndarray, n_classes: int, mode: str | None) -> np.ndarray | None:
    if mode is None:
        return None
    if mode != "balanced":
        raise ValueError(f"class_weight must be None or 'balanced', not {mode!r}")
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return (len(y) / (n_classes * np.maximum(counts, 1))).astype(np.float32)


@dataclass
class ProbeResult:
    """Best probes per (fold, layer) at the L2 strength chosen per layer (held-out loss)."""

    fold_weight: np.ndarray  # (folds, layers, outputs, features), on standardized inputs
    fold_bias: np.ndarray  # (folds, layers, outputs)
    c: np.ndarray  # (layers,) chosen inverse L2 strength (scikit-learn's C)
    heldout_loss: np.ndarray  # (layers,) mean held-out loss at the chosen strength
    grid_loss: np.ndarray  # (layers, grid) mean held-out loss of every strength
    grid_score: np.ndarray  # (layers, grid) what the choice maximised (-loss, or the held-out metric)
    grid_weight: np.ndarray  # (folds, grid, layers, outputs, features): every strength, for tuning
    grid_bias: np.ndarray  # (folds, grid, layers, outputs)
    epochs: int
    history: list[float] = field(default_factory=list)  # mean held-out loss per epoch


State = tuple[torch.Tensor, torch.Tensor]  # a ProbeTrainer's (weight, bias)


class ProbeTrainer:
    """State of one Phase-1 fit. Feed it standardized ``x`` of shape ``(batch, layers, features)``."""

    def __init__(
        self,
        settings: ProbeSettings,
        n_layers: int,
        n_features: int,
        n_outputs: int,
        n_rows: int,
        class_weight: np.ndarray | None = None,
        device: str = "cpu",
    ) -> None:
        self.s = settings
        self.K = max(1, settings.folds)
        self.G = len(settings.c_grid)
        self.P = self.K * self.G
        self.L, self.F, self.C = n_layers, n_features, n_outputs
        self.device = torch.device(device)
        torch.manual_seed(settings.seed)
        self.weight = torch.zeros(self.L, self.F, self.P * self.C, device=self.device, requires_grad=True)
        self.bias = torch.zeros(self.P, self.L, self.C, device=self.device, requires_grad=True)
        self.opt = torch.optim.Adam([self.weight, self.bias], lr=settings.lr)
        # Row-mean loss + λ‖w‖² is scikit-learn's objective divided by n_train when λ = 1/(2·C·n_train).
        n_train = n_rows * ((self.K - 1) / self.K if self.K >= 2 else 0.9)
        grid = torch.tensor(settings.c_grid, dtype=torch.float64, device=self.device)
        self.l2 = (1.0 / (2.0 * grid * max(n_train, 1.0))).float().repeat(self.K)  # group p = fold·G + g
        self.fold_of_group = torch.arange(self.K, device=self.device).repeat_interleave(self.G)
        self.cw = None if class_weight is None else torch.as_tensor(class_weight, device=self.device)
        self.best_weight = self.weight.detach().clone()
        self.best_bias = self.bias.detach().clone()
        self.best_loss = torch.full((self.P, self.L), float("inf"), device=self.device)
        self.stale = torch.zeros(self.P, self.L, dtype=torch.long, device=self.device)
        self._sum = torch.zeros(self.P, self.L, device=self.device)
        self._count = torch.zeros(self.P, 1, device=self.device)
        # Out-of-fold confusion counts of every (strength, layer) probe, for metric-based selection.
        self.conf = torch.zeros(self.G, self.L, self.C, self.C, dtype=torch.float64, device=self.device)
        self.epoch = 0
        self.history: list[float] = []
        # Data-parallel hooks (Ray Train workers): average gradients, sum held-out losses.
        self.all_reduce_mean: Callable[[list[torch.Tensor]], None] | None = None
        self.all_reduce_sum: Callable[[list[torch.Tensor]], None] | None = None

    # -- pieces -------------------------------------------------------------------------------
    def logits(self, x: torch.Tensor, best: bool = False, state: State | None = None) -> torch.Tensor:
        """``(batch, groups, layers, outputs)``, of the current, the best (early-stopped) or a
        :meth:`snapshot`'s probes."""
        B = x.shape[0]
        weight, bias = (self.best_weight, self.best_bias) if best else state or (self.weight, self.bias)
        out = torch.bmm(x.transpose(0, 1), weight)  # (L, B, P*C)
        return out.view(self.L, B, self.P, self.C).permute(1, 2, 0, 3) + bias

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-example loss ``(batch, groups, layers)`` and the weight of each example."""
        if self.s.task == "regression":
            return (logits[..., 0] - y.view(-1, 1, 1)) ** 2
        logp = F.log_softmax(logits, dim=-1)
        idx = y.view(-1, 1, 1, 1).expand(-1, self.P, self.L, 1)
        return -logp.gather(-1, idx).squeeze(-1)

    def _masks(self, split: torch.Tensor) -> torch.Tensor:
        """``(batch, groups)`` True where the row is held out from that group's fold."""
        held = 0 if self.K == 1 else self.fold_of_group
        return split.view(-1, 1) == held

    def _example_weight(self, y: torch.Tensor) -> torch.Tensor:
        if self.cw is None or self.s.task == "regression":
            return torch.ones(len(y), device=self.device)
        return self.cw[y]

    # -- the loop -------------------------------------------------------------------------------
    def train_batch(self, x: torch.Tensor, y: torch.Tensor, split: torch.Tensor) -> None:
        train = (~self._masks(split)).float() * self._example_weight(y).view(-1, 1)  # (B, P)
        per = self._loss(self.logits(x), y)  # (B, P, L)
        data = (per * train.unsqueeze(-1)).sum(0) / train.sum(0).clamp_min(1).unsqueeze(-1)  # (P, L)
        w = self.weight.view(self.L, self.F, self.P, self.C)
        reg = (w.square().sum((1, 3)).T * self.l2.view(-1, 1)).sum()
        if self.s.l1:
            reg = reg + self.s.l1 * w.abs().sum()
        self.opt.zero_grad(set_to_none=True)
        (data.sum() + reg).backward()
        if self.all_reduce_mean:
            self.all_reduce_mean([self.weight.grad, self.bias.grad])
        self.opt.step()

    @torch.no_grad()
    def snapshot(self) -> State:
        """The current weights and bias, to score the held-out rows against while training goes on."""
        return self.weight.detach().clone(), self.bias.detach().clone()

    @torch.no_grad()
    def eval_batch(
        self, x: torch.Tensor, y: torch.Tensor, split: torch.Tensor, state: State | None = None
    ) -> None:
        held = self._masks(split).float() * self._example_weight(y).view(-1, 1)
        per = self._loss(self.logits(x, state=state), y)
        self._sum += (per * held.unsqueeze(-1)).sum(0)
        self._count += held.sum(0).unsqueeze(-1)

    @torch.no_grad()
    def count_batch(self, x: torch.Tensor, y: torch.Tensor, split: torch.Tensor) -> None:
        """Add the best probes' held-out predictions to :attr:`conf` (after training ends)."""
        pred = self.logits(x, best=True).argmax(-1)  # (B, P, L)
        held = self._masks(split).unsqueeze(-1).expand_as(pred)
        g = (torch.arange(self.P, device=self.device) % self.G).view(1, -1, 1)
        layer = torch.arange(self.L, device=self.device).view(1, 1, -1)
        idx = ((g * self.L + layer) * self.C + y.view(-1, 1, 1)) * self.C + pred
        self.conf.view(-1).add_(torch.bincount(idx[held], minlength=self.conf.numel()).double())

    @torch.no_grad()
    def end_epoch(self, state: State | None = None) -> bool:
        """Keep each probe's best state (of the current weights, or of the :meth:`snapshot` the
        held-out rows were scored with); True while any probe still improves."""
        if self.all_reduce_sum:
            self.all_reduce_sum([self._sum, self._count])
        loss = self._sum / self._count.clamp_min(1e-9)
        self._sum.zero_()
        self._count.zero_()
        better = loss < self.best_loss - 1e-6
        self.best_loss = torch.where(better, loss, self.best_loss)
        self.stale = torch.where(better, torch.zeros_like(self.stale), self.stale + 1)
        cols = better.T.repeat_interleave(self.C, dim=1).unsqueeze(1)  # (L, 1, P*C)
        weight, bias = state or (self.weight.detach(), self.bias.detach())
        self.best_weight = torch.where(cols, weight, self.best_weight)
        self.best_bias = torch.where(better.unsqueeze(-1), bias, self.best_bias)
        self.epoch += 1
        self.history.append(float(loss.mean()))
        self.set_lr(self.epoch)
        return self.epoch < self.s.max_epochs and bool((self.stale < self.s.patience).any())

    def set_lr(self, epoch: int) -> None:
        """Cosine decay: Adam's steady-state jitter around the optimum shrinks as the rate goes to zero."""
        for group in self.opt.param_groups:
            group["lr"] = self.s.lr * 0.5 * (1 + math.cos(math.pi * min(epoch / self.s.max_epochs, 1)))

    # -- checkpoints (safetensors-friendly: tensors plus a small JSON-able dict) ------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {
            "weight": self.weight.detach(),
            "bias": self.bias.detach(),
            "best_weight": self.best_weight,
            "best_bias": self.best_bias,
            "best_loss": self.best_loss,
            "stale": self.stale,
            "conf": self.conf,
        }
        for i, p in enumerate((self.weight, self.bias)):
            for k, v in self.opt.state.get(p, {}).items():
                tensors[f"opt.{i}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
        return {k: v.contiguous().cpu() for k, v in tensors.items()}, {
            "epoch": self.epoch,
            "history": self.history,
        }

    @torch.no_grad()
    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Resume exactly where :meth:`state` left off (weights, best snapshots, Adam moments)."""
        self.weight.copy_(tensors["weight"])
        self.bias.copy_(tensors["bias"])
        self.best_weight = tensors["best_weight"].to(self.device).clone()
        self.best_bias = tensors["best_bias"].to(self.device).clone()
        self.best_loss = tensors["best_loss"].to(self.device).clone()
        self.stale = tensors["stale"].to(self.device).clone()
        if "conf" in tensors:
            self.conf = tensors["conf"].to(self.device).clone()
        for i, p in enumerate((self.weight, self.bias)):
            st = {
                k.split(".", 2)[2]: v.to(self.device) for k, v in tensors.items() if k.startswith(f"opt.{i}.")
            }
            if st:
                self.opt.state[p] = st
        self.epoch = int(meta["epoch"])
        self.history = list(meta["history"])

    def result(self, scores: np.ndarray | None = None) -> ProbeResult:
        """Pick each layer's strength by ``scores`` ``(layers, grid)`` (higher is better), or by loss."""
        K, G, L, C, F_ = self.K, self.G, self.L, self.C, self.F
        best = self.best_loss.view(K, G, L).cpu().numpy()
        grid_loss = best.mean(0).T  # (L, G)
        scores = -grid_loss if scores is None else np.asarray(scores)
        # Ties (a metric often has them) go to the lower held-out loss.
        choice = np.lexsort((grid_loss, -scores), axis=1)[:, 0]
        w = self.best_weight.view(L, F_, K, G, C).permute(2, 3, 0, 4, 1).cpu().numpy()  # K,G,L,C,F
        b = self.best_bias.view(K, G, L, C).cpu().numpy()
        layers = np.arange(L)
        return ProbeResult(
            fold_weight=np.ascontiguousarray(w[:, choice, layers]),
            fold_bias=np.ascontiguousarray(b[:, choice, layers]),
            c=np.asarray(self.s.c_grid)[choice],
            heldout_loss=grid_loss[layers, choice],
            grid_loss=grid_loss,
            grid_score=scores,
            grid_weight=np.ascontiguousarray(w),
            grid_bias=np.ascontiguousarray(b),
            epochs=self.epoch,
            history=list(self.history),
        )


def batches(n: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]
