"""A model that runs to the deepest requested layer and returns pooled FFN activations.

The core in the spirit of baukit's ``nethook.Trace(stop=True)``: a forward pre-hook on each requested
block's down-projection sees the post-activation FFN tensor, pools it at once (so only
``(batch, width)`` per layer is ever kept) and, at the deepest requested layer, raises a private
exception that ends the forward pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from neuronhead.models.loading import LoadedModel
from neuronhead.models.padding import pad_batch
from neuronhead.models.pooling import PoolMask, masked_mean_max
from neuronhead.models.tokens import BATCH_SIZE, Tokenized, length_sorted_batches


class _StopForward(Exception):
    """Raised by the deepest hook: nothing after it is needed."""


def _get(module: torch.nn.Module, path: str) -> torch.nn.Module:
    for part in path.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    return module


def blocks_of(loaded: LoadedModel) -> torch.nn.ModuleList:
    return _get(loaded.model.base_model, loaded.spec.blocks)


class HookedModel:
    """Pooled (mean, max) post-activation FFN features of chosen layers, optionally of chosen neurons.

    ``neurons`` maps a layer to the neuron indices to keep (scoring only needs a head's salient
    neurons); layers absent from it keep every neuron.
    """

    # True only where bench/null_forward has swapped the forward for stand-in values (to measure the
    # pipeline around the model); every shard summary and manifest then says so.
    null_forward = False

    def __init__(
        self,
        loaded: LoadedModel,
        layers: Sequence[int] | None = None,
        *,
        neurons: Mapping[int, Sequence[int]] | None = None,
        pool_special_tokens: bool = False,
        embeddings: bool = False,
    ) -> None:
        self.loaded = loaded
        self.layers = sorted(set(range(loaded.n_loaded) if layers is None else layers))
        if not self.layers or self.layers[0] < 0 or self.layers[-1] >= loaded.n_loaded:
            raise ValueError(f"layers must lie in 0..{loaded.n_loaded - 1} (loaded blocks), got {layers}")
        self.pool_special_tokens = pool_special_tokens
        if embeddings and loaded.n_loaded != loaded.n_layers_total:
            raise ValueError("embeddings (the final hidden state) need the whole model loaded")
        self.embeddings = embeddings
        self.embed_dim = int(loaded.model.get_input_embeddings().embedding_dim)
        self.device = next(loaded.model.parameters()).device
        self.neurons = {
            layer: torch.as_tensor(list(idx), dtype=torch.long, device=self.device)
            for layer, idx in (neurons or {}).items()
        }
        self.pad_id = int(loaded.tokenizer.pad_token_id)

    def embedding_token(self) -> str:
        """Which token stands for the text: the first (encoders) or the last real one (decoders)."""
        return "last" if self.loaded.spec.pad_with_eos else "first"

    def widths(self) -> dict[int, int]:
        return {
            layer: len(self.neurons[layer]) if layer in self.neurons else self.loaded.ffn_width
            for layer in self.layers
        }

    @torch.inference_mode()
    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, pool_mask: torch.Tensor
    ) -> dict[int, torch.Tensor]:
        """``{layer: (batch, 2, width) float32}`` for one padded batch.

        With ``embeddings``, also ``"embed_mean"`` (final hidden state averaged over every real token,
        special ones included, as sentence-transformers does) and ``"embed_token"`` (first token, or
        the last real one for decoders), each ``(batch, hidden) float32``.
        """
        pooled: dict[int, torch.Tensor] = {}
        pool_mask = PoolMask.of(pool_mask.to(self.device))  # once for all layers: no per-layer sync
        deepest = self.layers[-1]
        blocks = blocks_of(self.loaded)

        def make_hook(layer: int):
            def hook(_module, args):
                acts = args[0]
                if layer in self.neurons:
                    acts = acts.index_select(-1, self.neurons[layer])
                pooled[layer] = masked_mean_max(acts, pool_mask)
                if layer == deepest and not self.embeddings:
                    raise _StopForward

            return hook

        handles = [
            _get(blocks[layer], self.loaded.spec.down_proj).register_forward_pre_hook(make_hook(layer))
            for layer in self.layers
        ]
        # Decoders cache keys and values for generation by default: memory nobody reads here.
        extra = {"use_cache": False} if getattr(self.loaded.model.config, "use_cache", False) else {}
        try:
            out = self.loaded.model(
                input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device), **extra
            )
            if self.embeddings:
                hidden = out.last_hidden_state.float()
                att = attention_mask.to(self.device).to(hidden.dtype)
                pooled["embed_mean"] = (hidden * att.unsqueeze(-1)).sum(1) / att.sum(1, keepdim=True)
                if self.embedding_token() == "last":
                    last = attention_mask.to(self.device).sum(1) - 1
                    pooled["embed_token"] = hidden[torch.arange(len(hidden), device=self.device), last]
                else:
                    pooled["embed_token"] = hidden[:, 0]
        except _StopForward:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return pooled

    def features(
        self,
        tokens: Tokenized,
        *,
        batch_size: int = BATCH_SIZE,
        max_tokens: int | None = None,
        sort: bool = True,
    ) -> dict[int | str, np.ndarray]:
        """``{layer: (n_texts, 2, width) float32}`` (+ embeddings) in input order, length-sorted batches."""
        n = len(tokens)
        out: dict = {layer: np.empty((n, 2, w), dtype=np.float32) for layer, w in self.widths().items()}
        if self.embeddings:
            out.update({k: np.empty((n, self.embed_dim), np.float32) for k in ("embed_mean", "embed_token")})
        lengths = [len(x) for x in tokens.ids]
        for batch in length_sorted_batches(lengths, batch_size, max_tokens, sort=sort):
            ids, att, pool = pad_batch(
                [tokens.ids[i] for i in batch],
                [tokens.special[i] for i in batch],
                self.pad_id,
                pool_special_tokens=self.pool_special_tokens,
            )
            result = self.forward(ids, att, pool)
            index = np.asarray(batch)
            for layer, value in result.items():
                out[layer][index] = value.cpu().numpy()
        return out
