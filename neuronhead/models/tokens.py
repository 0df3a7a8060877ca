"""Tokenize without padding (padding happens per mini-batch: ``padding.py``); no torch here.

Keeping texts unpadded until the model runs lets batches be formed from texts of similar length
(:func:`length_sorted_batches`), so little compute is spent on pads. This module imports neither torch
nor transformers, so a tokenize worker that uses :class:`PortableTokenizer` skips importing both
(docs/benchmarks/pipeline.md, "Feeding the model", has what that saves per worker process).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerBase

MAX_LENGTH = 128  # tokens per text unless told: a tweet's 280 characters rarely take more
BATCH_SIZE = 64  # texts per forward pass unless told (length-sorted, so little of it is padding)


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


@dataclass(frozen=True)
class PortableTokenizer:
    """A model's tokenizer as a small picklable value that tokenizes exactly as :func:`tokenize`.

    A fast tokenizer travels as its Rust backend (``tokenizers`` JSON) and runs without torch or
    transformers: what the tokenize stage of a pipeline ships to its workers. A tokenizer without a
    backend (a slow, Python one) travels as its model folder and is loaded with transformers there.
    """

    max_length: int
    backend: str | None = field(default=None, repr=False)  # ``Tokenizer.to_str()``: ~0.5 MB, not for logs
    side: str = "right"  # which end truncation cuts, as the tokenizer's ``truncation_side``
    model_path: str | None = None  # only without a backend
    trust_remote_code: bool = False

    @classmethod
    def of(
        cls,
        tokenizer: PreTrainedTokenizerBase,
        max_length: int,
        model_path: str,
        trust_remote_code: bool = False,
    ) -> PortableTokenizer:
        """``tokenizer`` (loaded from ``model_path``) as it will tokenize in a pipeline's workers."""
        backend = getattr(tokenizer, "backend_tokenizer", None) if tokenizer.is_fast else None
        if backend is None:
            return cls(max_length, model_path=model_path, trust_remote_code=trust_remote_code)
        return cls(max_length, backend=backend.to_str(), side=tokenizer.truncation_side)

    def __call__(self, texts: Sequence[str]) -> Tokenized:
        if self.backend is None:
            return tokenize(_loaded(self.model_path, self.trust_remote_code), texts, self.max_length)
        encodings = _backend(self.backend, self.max_length, self.side).encode_batch(
            list(texts), add_special_tokens=True
        )
        return Tokenized(
            ids=[e.ids for e in encodings],
            special=[e.special_tokens_mask for e in encodings],
            truncated=[len(e.overflowing) > 0 for e in encodings],
        )


@lru_cache(maxsize=4)
def _backend(backend: str, max_length: int, side: str) -> Tokenizer:
    """The backend set up as transformers sets it for :func:`tokenize`: truncation at ``max_length``
    (stride 0, longest first), no padding, typed control strings kept as text."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(backend)
    tokenizer.enable_truncation(max_length, stride=0, strategy="longest_first", direction=side)
    tokenizer.no_padding()
    tokenizer.encode_special_tokens = True
    return tokenizer


@lru_cache(maxsize=4)
def _loaded(path: str, trust_remote_code: bool) -> PreTrainedTokenizerBase:
    from neuronhead.models.loading import load_tokenizer  # torch and transformers: slow tokenizers only

    return load_tokenizer(Path(path), trust_remote_code=trust_remote_code)


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
