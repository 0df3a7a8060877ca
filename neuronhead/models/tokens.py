"""Tokenize without padding, then pad per mini-batch: tweets vary a lot in length.

Keeping texts unpadded until the model runs lets batches be formed from texts of similar length
(:func:`length_sorted_batches`), so little compute is spent on pads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase


@dataclass
class Tokenized:
    """Unpadded token ids per text, which positions are special tokens, and whether it was truncated."""

    ids: list[list[int]]
    special: list[list[int]]
    truncated: list[bool]

    def __len__(self) -> int:
        return len(self.ids)


def tokenize(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int) -> Tokenized:
    """Token ids (with the model's special tokens) truncated to ``max_length``.

    A control string typed in a text (``</s>``, ``[SEP]``, ``<|endoftext|>``…) stays plain text
    (``split_special_tokens``): otherwise the model would be fed a separator the writer never meant,
    and pooling, which only knows the special tokens the tokenizer added, would count it as text.
    """
    enc = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        return_special_tokens_mask=True,
        return_attention_mask=False,
        return_token_type_ids=False,
        split_special_tokens=True,
    )
    if enc.encodings is not None:  # fast tokenizer: the cut-off part is kept as "overflowing"
        truncated = [len(e.overflowing) > 0 for e in enc.encodings]
    else:
        full = tokenizer(
            list(texts), truncation=False, return_attention_mask=False, split_special_tokens=True
        )["input_ids"]
        truncated = [len(f) > max_length for f in full]
    return Tokenized(ids=enc["input_ids"], special=enc["special_tokens_mask"], truncated=truncated)


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


def length_sorted_batches(
    lengths: Sequence[int], batch_size: int, max_tokens: int | None = None, *, sort: bool = True
) -> list[list[int]]:
    """Index batches of at most ``batch_size`` texts and ``max_tokens`` padded tokens.

    With ``sort`` the texts are taken longest first, so each batch holds texts of similar length and
    the first batch shows the peak memory at once.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i]) if sort else list(range(len(lengths)))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        longer = max(longest, lengths[i])
        too_many_tokens = max_tokens is not None and current and longer * (len(current) + 1) > max_tokens
        if current and (len(current) >= batch_size or too_many_tokens):
            batches.append(current)
            current, longer = [], lengths[i]
        current.append(i)
        longest = longer
    if current:
        batches.append(current)
    return batches
