"""Activation-like values of the right shapes instead of the model's forward: what the pipeline around
the model sustains (bench/pipeline.py ``--null``). Installed by this folder's ``sitecustomize``."""

from __future__ import annotations

import functools

import torch

NULL_ROWS = 1024


@functools.cache
def _buffer(width: int, device: torch.device) -> torch.Tensor:
    """``(NULL_ROWS, width)`` GELU(N(-0.5, 1)) values, made once per width with a fixed seed."""
    g = torch.Generator().manual_seed(width)
    return torch.nn.functional.gelu(torch.randn(NULL_ROWS, width, generator=g) - 0.5).to(device)


def null_forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pool_mask: torch.Tensor):  # noqa: ANN001, ANN201
    """``HookedModel.forward``'s outputs at the cost of a copy.

    Zeros would flatter the writer (zstd squeezes them to nothing), so the values are rows of a
    fixed random buffer, post-GELU-like, taken at a rolling offset: rows repeat only megabytes
    apart, outside the compressor's window, like real activations do not repeat at all.
    """
    n = len(input_ids)
    self._null_calls = getattr(self, "_null_calls", 0) + 1
    rows = (torch.arange(n) * 7 + self._null_calls * 131) % NULL_ROWS
    out = {
        layer: _buffer(2 * width, self.device)[(rows + 17 * layer) % NULL_ROWS].view(n, 2, width)
        for layer, width in self.widths().items()
    }
    if self.embeddings:
        embed = _buffer(self.embed_dim, self.device)
        out.update({k: embed[rows] for k in ("embed_mean", "embed_token")})
    return out


def install(hooked_model: type) -> None:
    hooked_model.forward = torch.inference_mode()(null_forward)
    hooked_model.null_forward = True
