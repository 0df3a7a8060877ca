"""The tiny models are of their real kinds, and special tokens are pooled only when asked.

Each kind brings its own tokenizer algorithm, special tokens and activation; a tiny model dressed in
another kind's tokenizer (as the RoBERTa once was, with BERT's WordPiece) leaves those untested.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from tokenizers import pre_tokenizers

from neuronhead.models import HookedModel, load_model, tokenize
from neuronhead.models.padding import pad_batch
from tests.tiny_models import ARCHS, SENTENCES, UNICODE_TEXT, control_ids


@dataclass(frozen=True)
class Kind:
    """What the real model of a kind ships with."""

    tokenizer: str  # class name AutoTokenizer gives
    algorithm: str  # the tokenizers model: BPE or WordPiece
    first: str | None  # token the template puts before a text (None: nothing)
    last: str | None  # token the template puts after a text
    activation: str


KINDS = {
    "bert": Kind("BertTokenizer", "WordPiece", "[CLS]", "[SEP]", "gelu"),
    "roberta": Kind("RobertaTokenizer", "BPE", "<s>", "</s>", "gelu"),
    "distilbert": Kind("DistilBertTokenizer", "WordPiece", "[CLS]", "[SEP]", "gelu"),
    "gpt2": Kind("GPT2Tokenizer", "BPE", None, None, "gelu_new"),
}
BYTE_LEVEL = [arch for arch in ARCHS if KINDS[arch].algorithm == "BPE"]
ENCODERS = [arch for arch in ARCHS if KINDS[arch].first]

UNSEEN_TEXT = "Ærøskøbing façade, Ελληνικά και 日本語 🦜🫠"  # no word of it is in the BPE's training texts

# Control tokens of every kind, typed by a user: text, never markers for the model.
TYPED_CONTROLS = "hi </s> there <s> and [SEP] or [CLS] <|endoftext|> bye"


@pytest.fixture(scope="module")
def loaded_models(tiny_models):
    return {arch: load_model(tiny_models[arch]) for arch in ARCHS}


@pytest.mark.parametrize("arch", ARCHS)
def test_tokenizer_and_activation_are_the_real_kind(loaded_models, arch):
    loaded, kind = loaded_models[arch], KINDS[arch]
    assert type(loaded.tokenizer).__name__ == kind.tokenizer
    assert type(loaded.tokenizer.backend_tokenizer.model).__name__ == kind.algorithm
    assert loaded.spec.activation_name(loaded.config) == kind.activation
    assert not any(isinstance(m, torch.nn.ReLU) for m in loaded.model.modules())


def test_special_tokens_are_the_real_ones(loaded_models):
    roberta = loaded_models["roberta"].tokenizer
    assert (roberta.bos_token, roberta.eos_token, roberta.pad_token) == ("<s>", "</s>", "<pad>")
    assert (roberta.unk_token, roberta.mask_token, roberta.cls_token, roberta.sep_token) == (
        "<unk>", "<mask>", "<s>", "</s>"
    )  # fmt: skip
    config = loaded_models["roberta"].config
    assert (config.bos_token_id, config.pad_token_id, config.eos_token_id) == (0, 1, 2)  # as roberta-base
    gpt2 = loaded_models["gpt2"].tokenizer
    assert gpt2.all_special_tokens == ["<|endoftext|>"]
    assert gpt2.bos_token == gpt2.eos_token == gpt2.unk_token == "<|endoftext|>"
    assert gpt2.pad_token_id == gpt2.eos_token_id  # GPT-2 has no pad: the loader pads with eos


@pytest.mark.parametrize("arch", BYTE_LEVEL)
def test_byte_level_bpe_round_trips_any_text(loaded_models, arch):
    tok = loaded_models[arch].tokenizer
    assert isinstance(tok.backend_tokenizer.pre_tokenizer, pre_tokenizers.ByteLevel)
    for text in (UNICODE_TEXT, UNSEEN_TEXT):
        ids = tok(text)["input_ids"]
        assert tok.unk_token_id not in ids
        assert tok.decode(ids, skip_special_tokens=True) == text
    emoji = tok.convert_ids_to_tokens(tok(" 🦜")["input_ids"])  # unseen in training: bytes, not <unk>
    assert "<unk>" not in emoji and len([t for t in emoji if t not in ("<s>", "</s>")]) >= 2


@pytest.mark.parametrize("arch", ["bert", "distilbert"])
def test_wordpiece_is_uncased_and_strips_accents(loaded_models, arch):
    tok = loaded_models[arch].tokenizer
    tokens = tok.convert_ids_to_tokens(tok("Café NAÏVE")["input_ids"])
    assert tokens == ["[CLS]", "cafe", "naive", "[SEP]"]


@pytest.mark.parametrize("arch", ARCHS)
def test_special_mask_marks_exactly_the_template_tokens(loaded_models, arch):
    tok, kind = loaded_models[arch].tokenizer, KINDS[arch]
    tokens = tokenize(tok, SENTENCES + [UNICODE_TEXT], 64)
    for ids, special in zip(tokens.ids, tokens.special, strict=True):
        names = tok.convert_ids_to_tokens(ids)
        if kind.first:
            assert (names[0], names[-1]) == (kind.first, kind.last)
            assert special == [1] + [0] * (len(ids) - 2) + [1]
        else:  # GPT-2 adds nothing to a text
            assert special == [0] * len(ids) and tok.eos_token_id not in ids


@pytest.mark.parametrize("arch", ARCHS)
def test_pool_special_tokens_decides_whether_the_template_tokens_count(loaded_models, arch):
    loaded = loaded_models[arch]
    tokens = tokenize(loaded.tokenizer, SENTENCES + [UNICODE_TEXT], 64)
    without = HookedModel(loaded, pool_special_tokens=False).features(tokens)
    with_special = HookedModel(loaded, pool_special_tokens=True).features(tokens)
    for layer in range(loaded.n_loaded):
        assert np.all(with_special[layer][:, 1] >= without[layer][:, 1])  # max over a superset
        if arch in ENCODERS:
            assert not np.allclose(with_special[layer][:, 0], without[layer][:, 0])
        else:
            np.testing.assert_array_equal(with_special[layer], without[layer])


@pytest.mark.parametrize("arch", ARCHS)
def test_pool_mask_leaves_out_every_control_token_and_only_those(loaded_models, arch):
    tok = loaded_models[arch].tokenizer
    tokens = tokenize(tok, SENTENCES + [UNICODE_TEXT], 64)
    input_ids, attention, pool = pad_batch(tokens.ids, tokens.special, tok.pad_token_id)
    control = torch.isin(input_ids, torch.tensor(sorted(control_ids(tok))))
    torch.testing.assert_close(pool, attention.bool() & ~control)


@pytest.mark.parametrize("arch", ARCHS)
def test_control_tokens_typed_in_a_text_are_not_pooled_as_text(loaded_models, arch):
    """A tweet that contains "</s>" or "[SEP]" must not put a real separator among the pooled tokens.

    Today the tokenizer turns the typed string into the control token's id, while its special-tokens
    mask (what ``pool_special_tokens=False`` relies on) marks only the tokens its template added.
    """
    tok = loaded_models[arch].tokenizer
    tokens = tokenize(tok, [TYPED_CONTROLS], 64)
    control = control_ids(tok)
    pooled = [i for i, s in zip(tokens.ids[0], tokens.special[0], strict=True) if not s]
    assert not control & set(pooled), tok.convert_ids_to_tokens(tokens.ids[0])
