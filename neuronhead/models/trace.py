"""Per-token activations of a few neurons for one text: what an explanation shows beside the pooled value.

:class:`~neuronhead.models.hooked.HookedModel` pools inside its hooks so that no per-token tensor
outlives a layer; an explanation needs the opposite for a handful of neurons of one text: where in
the text each one fired. The same hook point, the same early stop, and the same pooling function
(so the pooled values here are the ones scoring computes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from neuronhead.models.hooked import _get, _StopForward, blocks_of
from neuronhead.models.loading import LoadedModel
from neuronhead.models.pooling import masked_mean_max


@torch.inference_mode()
def token_activations(
    loaded: LoadedModel, ids: Sequence[int], neurons: Mapping[int, Sequence[int]]
) -> dict[int, torch.Tensor]:
    """``{layer: (tokens, k) float32}``: post-activation values of ``neurons[layer]`` at every token
    of one tokenized text (``ids``, special tokens included), the forward stopped after the deepest."""
    device = next(loaded.model.parameters()).device
    index = {
        layer: torch.as_tensor(list(idx), dtype=torch.long, device=device) for layer, idx in neurons.items()
    }
    deepest, blocks, seen = max(index), blocks_of(loaded), {}

    def make_hook(layer: int):
        def hook(_module, args):
            seen[layer] = args[0][0].index_select(-1, index[layer]).float().cpu()
            if layer == deepest:
                raise _StopForward

        return hook

    handles = [
        _get(blocks[layer], loaded.spec.down_proj).register_forward_pre_hook(make_hook(layer))
        for layer in index
    ]
    extra = {"use_cache": False} if getattr(loaded.model.config, "use_cache", False) else {}
    try:
        input_ids = torch.as_tensor([list(ids)], dtype=torch.long, device=device)
        loaded.model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **extra)
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return seen


def pool_tokens(acts: torch.Tensor, pooled: Sequence[bool]) -> torch.Tensor:
    """``(2, k)`` mean and max of one text's ``(tokens, k)`` values over the ``pooled`` positions."""
    mask = torch.as_tensor([list(pooled)], dtype=torch.bool)
    return masked_mean_max(acts.unsqueeze(0).clone(), mask)[0]
