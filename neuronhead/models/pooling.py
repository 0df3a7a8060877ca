"""Mask-aware pooling over tokens.

Pads (and, by choice, special tokens) must not take part: the mean divides by the real number of
pooled tokens and is accumulated in fp32; the max ignores excluded positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PoolMask:
    """What pooling needs from a batch's mask, worked out once for every layer of the batch.

    Finding the excluded positions and the empty rows reads the mask back to the host; on a GPU that
    is a synchronisation, so doing it per layer (48 times for GPT2-XL) would stall the device.
    """

    weights: torch.Tensor  # (batch, tokens) float32, 1 where pooled
    count: torch.Tensor  # (batch, 1) pooled tokens per row
    excluded: tuple[torch.Tensor, torch.Tensor]  # (rows, cols) of positions left out
    empty: torch.Tensor | None  # (batch,) rows with nothing to pool, None when there are none

    @classmethod
    def of(cls, mask: torch.Tensor) -> PoolMask:
        mask = mask.to(torch.bool)
        weights = mask.to(torch.float32)
        count = weights.sum(dim=1, keepdim=True)
        empty = count.squeeze(1) == 0
        return cls(weights, count, (~mask).nonzero(as_tuple=True), empty if bool(empty.any()) else None)


def masked_mean_max(acts: torch.Tensor, mask: torch.Tensor | PoolMask) -> torch.Tensor:
    """Pool ``acts`` (batch, tokens, width) over the tokens where ``mask`` (batch, tokens) is true.

    Returns (batch, 2, width) float32: index 0 is the mean, 1 the max. Rows with no pooled token give
    NaN, so a caller can never mistake them for real features. ``mask`` may be a :class:`PoolMask`
    prepared once per batch.

    ``acts`` is left exactly as it was, but may be modified *during* the call: for the max, only the
    few excluded positions (a handful of pads in a length-sorted batch, plus [CLS]/[SEP]) are set to
    -inf and then restored. Masking a full copy instead cost ~10% of a MiniLM forward on CPU.
    """
    pm = mask if isinstance(mask, PoolMask) else PoolMask.of(mask)
    work = acts if acts.dtype == torch.float32 else acts.float()
    mean = torch.einsum("bt,btw->bw", pm.weights, work) / pm.count
    rows, cols = pm.excluded
    saved = work[rows, cols]  # (excluded, width) copy
    work[rows, cols] = float("-inf")
    try:
        top = work.amax(dim=1)
    finally:
        work[rows, cols] = saved
    if pm.empty is not None:
        mean[pm.empty] = float("nan")
        top[pm.empty] = float("nan")
    return torch.stack((mean, top), dim=1)
