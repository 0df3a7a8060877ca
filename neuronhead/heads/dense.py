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
    task: str = "classification"
    width: int = 64
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


def fit_dense(
    z: np.ndarray,
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
    zt = torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))
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
            _loss(net(zt[idx]), yt[idx], settings.task, cw).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            h = torch.from_numpy(held_idx)
            loss = float(_loss(net(zt[h]), yt[h], settings.task, cw))
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
