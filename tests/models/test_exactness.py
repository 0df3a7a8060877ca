"""Captured features equal a recomputation from the module weights, for every architecture.

The reference never uses neuronhead's hooks or pooling: it runs each text alone (no padding),
captures only the *input* of each block's FFN up-projection, applies the up-projection and the
activation by hand from the weights, and pools in float64 with plain loops.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuronhead.models import HookedModel, load_model, tokenize
from neuronhead.models.hooked import _get, blocks_of
from neuronhead.models.trace import pool_tokens, token_activations
from tests.tiny_models import ARCHS, SENTENCES, UNICODE_TEXT, control_ids

LONG = "the quick brown fox jumps over the lazy dog " * 30  # truncated at max_length


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    x = x.double()
    if name == "gelu":
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    if name == "gelu_new":
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))
    if name == "relu":
        return x.clamp_min(0)
    raise AssertionError(f"no reference for {name}")


def reference_features(loaded, texts, max_length, pool_special_tokens=False):
    """{layer: (n, 2, width) float64} recomputed text by text from the weights."""
    spec, model = loaded.spec, loaded.model
    blocks = blocks_of(loaded)
    act = spec.activation_name(loaded.config)
    control = control_ids(loaded.tokenizer)
    out = {i: [] for i in range(loaded.n_loaded)}
    for text in texts:
        enc = loaded.tokenizer(text, truncation=True, max_length=max_length)
        ids = torch.tensor([enc["input_ids"]])
        # Which tokens are special is decided from the ids, not from the tokenizer's special mask.
        keep = [pool_special_tokens or i not in control for i in enc["input_ids"]]
        inputs = {}
        handles = [
            _get(block, spec.up_proj).register_forward_pre_hook(
                lambda _m, args, i=i, store=inputs: store.__setitem__(i, args[0][0].detach().double())
            )
            for i, block in enumerate(blocks)
        ]
        with torch.no_grad():
            model(input_ids=ids, attention_mask=torch.ones_like(ids))
        for h in handles:
            h.remove()
        for i, block in enumerate(blocks):
            up = _get(block, spec.up_proj)
            w, b = up.weight.detach().double(), up.bias.detach().double()
            pre = inputs[i] @ w + b if spec.conv1d else inputs[i] @ w.T + b  # Conv1D stores (in, out)
            a = _activation(act, pre).numpy()[np.array(keep)]
            out[i].append(np.stack([a.mean(axis=0), a.max(axis=0)]))
    return {i: np.stack(v) for i, v in out.items()}


@pytest.fixture(params=ARCHS)
def arch_model(request, tiny_models):
    return request.param, load_model(tiny_models[request.param])


@pytest.mark.parametrize("pool_special", [False, True])
def test_batched_features_equal_recomputation(arch_model, pool_special):
    _, loaded = arch_model
    texts = SENTENCES + [UNICODE_TEXT, LONG]
    tokens = tokenize(loaded.tokenizer, texts, max_length=24)
    assert tokens.truncated[-1] and not any(tokens.truncated[:-1])
    got = HookedModel(loaded, pool_special_tokens=pool_special).features(tokens, batch_size=3)
    want = reference_features(loaded, texts, 24, pool_special)
    for layer in range(loaded.n_loaded):
        assert got[layer].shape == (len(texts), 2, loaded.ffn_width)
        np.testing.assert_allclose(got[layer], want[layer], atol=1e-5, rtol=1e-5)


def test_bundled_minilm_equals_recomputation(minilm_path):
    loaded = load_model(minilm_path)
    assert (loaded.n_loaded, loaded.ffn_width, loaded.spec.name) == (6, 1536, "bert")
    texts = SENTENCES[:4]
    got = HookedModel(loaded).features(tokenize(loaded.tokenizer, texts, 64), batch_size=4)
    want = reference_features(loaded, texts, 64)
    for layer in range(6):
        np.testing.assert_allclose(got[layer], want[layer], atol=1e-5, rtol=1e-5)


def test_early_stopped_model_equals_full_forward(arch_model, tiny_models):
    arch, full = arch_model
    tokens = tokenize(full.tokenizer, SENTENCES, 32)
    full_feats = HookedModel(full).features(tokens)
    for depth in (1, 2):
        short = load_model(tiny_models[arch], depth=depth)
        assert len(blocks_of(short)) == depth  # only the needed blocks are materialised
        feats = HookedModel(short).features(tokens)
        for layer in range(depth):
            np.testing.assert_array_equal(feats[layer], full_feats[layer])


def test_forward_stops_after_deepest_requested_layer(arch_model):
    _, loaded = arch_model
    calls = []
    last = blocks_of(loaded)[-1]
    handle = last.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        HookedModel(loaded, layers=[0, 1]).features(tokenize(loaded.tokenizer, SENTENCES, 32))
    finally:
        handle.remove()
    assert calls == []


def test_features_do_not_depend_on_batch_company(arch_model):
    _, loaded = arch_model
    hooked = HookedModel(loaded)
    alone = hooked.features(tokenize(loaded.tokenizer, [SENTENCES[3]], 64))
    crowd = hooked.features(tokenize(loaded.tokenizer, [LONG, SENTENCES[3], SENTENCES[0]], 64), sort=False)
    for layer in alone:
        np.testing.assert_allclose(crowd[layer][1], alone[layer][0], atol=1e-5, rtol=1e-5)


def test_gathered_neurons_equal_slices_of_full(arch_model):
    _, loaded = arch_model
    tokens = tokenize(loaded.tokenizer, SENTENCES, 32)
    full = HookedModel(loaded, layers=[0, 2]).features(tokens)
    picks = {0: [5, 1, 7], 2: [0, loaded.ffn_width - 1]}
    part = HookedModel(loaded, layers=[0, 2], neurons=picks).features(tokens)
    for layer, idx in picks.items():
        np.testing.assert_allclose(part[layer], full[layer][:, :, idx], atol=1e-6)


def test_embeddings_equal_the_plain_final_hidden_state(arch_model):
    arch, loaded = arch_model
    texts = SENTENCES[:4]
    got = HookedModel(loaded, layers=[0], embeddings=True).features(tokenize(loaded.tokenizer, texts, 32))
    for i, text in enumerate(texts):
        ids = tokenize(loaded.tokenizer, [text], 32).ids[0]
        with torch.no_grad():
            hidden = loaded.model(input_ids=torch.tensor([ids])).last_hidden_state[0].double().numpy()
        np.testing.assert_allclose(got["embed_mean"][i], hidden.mean(0), atol=1e-5, rtol=1e-5)
        token = hidden[-1] if arch == "gpt2" else hidden[0]
        np.testing.assert_allclose(got["embed_token"][i], token, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="whole model"):
        HookedModel(load_model(loaded.path, depth=1), embeddings=True)


def test_token_trace_pools_to_the_recomputation(arch_model):
    """The explanation's per-token values of a few neurons, pooled, equal the reference (and so
    scoring's features); the text's tokens are traced unpadded, special tokens included."""
    _, loaded = arch_model
    picks = {0: [3, 0], 2: [loaded.ffn_width - 1, 5]}
    want = reference_features(loaded, [SENTENCES[2]], 32)
    tokens = tokenize(loaded.tokenizer, [SENTENCES[2]], 32)
    acts = token_activations(loaded, tokens.ids[0], picks)
    assert set(acts) == {0, 2}  # early stop after layer 2; no other layer kept
    pooled = [not s for s in tokens.special[0]]
    for layer, idx in picks.items():
        assert acts[layer].shape == (len(tokens.ids[0]), len(idx))
        got = pool_tokens(acts[layer], pooled).numpy()
        np.testing.assert_allclose(got, want[layer][0][:, idx], atol=1e-5, rtol=1e-5)
