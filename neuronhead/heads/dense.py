"""The Phase-2 network and its training loop: a small dense head, early-stopped on held-out rows.

Its inputs are few (per-layer probe outputs, optionally the salient neurons' values), so it trains
in memory with plain mini-batch AdamW; the best epoch on the held-out rows is kept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuronhead.heads.options import WIDTH
from neuronhead.heads.standardize import Standardizer


class DenseHead(nn.Module):
    """``inputs → [Linear → GELU → Dropout] → Linear``; ``width=0`` is a plain linear layer."""

    def __init__(self, n_in: int, width: int, n_out: int, dropout: float = 0.1) -> None:
        super().__init__()
        if width > 0:
            self.net = nn.Sequential(
                nn.Linear(n_in, width), nn.GELU(), nn.Dropout(dropout), nn.Linear(width, n_out)
            )
        else:
            self.net = nn.Sequential(nn.Linear(n_in, n_out))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


@dataclass(frozen=True)
class DenseSettings:
    """How Phase 2 trains; :class:`~neuronhead.heads.head.NeuronHead`'s signature takes its
    defaults from here (and the width from ``heads.options``)."""

    task: str = "classification"
    width: int = WIDTH
    dropout: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 256
    max_epochs: int = 100
    patience: int = 8
    seed: int = 0


def _loss(out: torch.Tensor, y: torch.Tensor, task: str, cw: torch.Tensor | None) -> torch.Tensor:
    if task == "regression":
        return F.mse_loss(out[:, 0], y)
    return F.cross_entropy(out, y, weight=cw)


class LazyInputs:
    """Phase-2 inputs made for the rows asked, never for every row at once.

    A wide head's inputs are the largest array of a fit (GPT2-XL's 10% salient neurons: 61,440
    float32 per row), so past a memory budget they are computed per batch from the gathered float16
    values: ``make(rows)`` gives the raw inputs of those row positions. :meth:`standardize` fixes the
    mean and scale applied to every later batch.
    """

    def __init__(
        self, make: Callable[[np.ndarray], np.ndarray], n_rows: int, n_inputs: int, budget: int = 2**27
    ) -> None:
        self.make, self.index, self.budget = make, np.arange(n_rows), budget
        self.shape = (n_rows, n_inputs)
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, mask: np.ndarray) -> LazyInputs:
        """The same inputs restricted to some rows (a mask or positions)."""
        other = copy.copy(self)
        other.index = self.index[mask]
        other.shape = (len(other.index), self.shape[1])
        return other

    def rows(self, idx: np.ndarray) -> np.ndarray:
        z = self.make(self.index[idx])
        if self.mean is not None:
            z -= self.mean
            z /= self.scale
        return z

    def blocks(self, idx: np.ndarray) -> list[np.ndarray]:
        """``idx`` in blocks of at most ``budget`` bytes of float32 inputs."""
        step = max(1, self.budget // (4 * self.shape[1]))
        return [idx[i : i + step] for i in range(0, len(idx), step)]

    def moments(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the rows ``idx``: :class:`Standardizer`'s float64 sums,
        block by block (a spread at or below 1e-6 reads as 1, as the eager path treats it)."""
        std = Standardizer().fit_chunks(self.make(self.index[block]) for block in self.blocks(idx))
        return std.mean_, std.scale_

    def standardize(self, mean: np.ndarray, scale: np.ndarray) -> None:
        self.mean, self.scale = mean, scale


def fit_dense(
    z: np.ndarray | LazyInputs,
    y: np.ndarray,
    heldout: np.ndarray,
    n_out: int,
    settings: DenseSettings,
    class_weight: np.ndarray | None = None,
    on_epoch: Callable[[int, DenseHead, bool], None] | None = None,
) -> tuple[DenseHead, dict]:
    """Train on ``~heldout`` rows, keep the epoch with the lowest held-out loss.

    ``on_epoch(epoch, net, improved)`` runs after each epoch with the network in eval mode (tuning
    trials report to their scheduler from it).
    """
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    net = DenseHead(z.shape[1], settings.width, n_out, settings.dropout)
    opt = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    lazy = isinstance(z, LazyInputs)
    zt = None if lazy else torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))

    def take(idx: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(z.rows(idx.numpy())) if lazy else zt[idx]

    yt = torch.from_numpy(y.astype(np.float32 if settings.task == "regression" else np.int64))
    cw = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
    train_idx, held_idx = np.flatnonzero(~heldout), np.flatnonzero(heldout)
    if not len(train_idx) or not len(held_idx):
        raise ValueError("Phase 2 needs both training and held-out rows")
    best, best_state, best_epoch, stale, history = float("inf"), None, 0, 0, []
    for epoch in range(settings.max_epochs):
        net.train()
        perm = train_idx[rng.permutation(len(train_idx))]
        for i in range(0, len(perm), settings.batch_size):
            idx = torch.from_numpy(perm[i : i + settings.batch_size])
            opt.zero_grad(set_to_none=True)
            _loss(net(take(idx)), yt[idx], settings.task, cw).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            loss = _heldout_loss(net, z, take, yt, held_idx, settings.task, cw)
        history.append(loss)
        improved = loss < best - 1e-6
        if improved:
            best, best_state, best_epoch, stale = loss, copy.deepcopy(net.state_dict()), epoch + 1, 0
        else:
            stale += 1
        if on_epoch is not None:
            on_epoch(epoch + 1, net, improved)
        if stale >= settings.patience:
            break
    net.load_state_dict(best_state)
    net.eval()
    return net, {"heldout_loss": best, "best_epoch": best_epoch, "epochs": len(history), "history": history}


def _heldout_loss(net, z, take, yt, held_idx: np.ndarray, task: str, cw) -> float:
    """The held-out rows' mean loss; lazy inputs are scored block by block (weighted sums)."""
    if not isinstance(z, LazyInputs):
        h = torch.from_numpy(held_idx)
        return float(_loss(net(take(h)), yt[h], task, cw))
    total = weight = 0.0
    for block in z.blocks(held_idx):
        h = torch.from_numpy(block)
        out, y = net(take(h)), yt[h]
        if task == "regression":
            total, weight = total + float(F.mse_loss(out[:, 0], y, reduction="sum")), weight + len(block)
        else:
            w = torch.ones(len(block)) if cw is None else cw[y]
            total += float(F.cross_entropy(out, y, weight=cw, reduction="sum"))
            weight += float(w.sum())
    return total / max(weight, 1e-12)
