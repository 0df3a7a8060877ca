"""Token ids → the padded tensors a forward pass takes, one mini-batch at a time."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pad_batch(
    ids: Sequence[Sequence[int]],
    special: Sequence[Sequence[int]],
    pad_id: int,
    *,
    pool_special_tokens: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad a batch: ``(input_ids, attention_mask, pool_mask)``.

    Right padding keeps GPT-2's positions (a plain arange) right for every real token. ``pool_mask``
    is the attention mask, minus special tokens unless ``pool_special_tokens``.
    """
    width = max(len(x) for x in ids)
    n = len(ids)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    attention = torch.zeros((n, width), dtype=torch.long)
    pool = torch.zeros((n, width), dtype=torch.bool)
    for i, (row, spec) in enumerate(zip(ids, special, strict=True)):
        k = len(row)
        input_ids[i, :k] = torch.as_tensor(row, dtype=torch.long)
        attention[i, :k] = 1
        keep = (
            torch.ones(k, dtype=torch.bool)
            if pool_special_tokens
            else ~torch.as_tensor(spec, dtype=torch.bool)
        )
        pool[i, :k] = keep
    return input_ids, attention, pool
