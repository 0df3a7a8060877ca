"""Shared fixtures: tiny random models of each architecture, saved as real model folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import transformers as T

# Tests never need the network: make any stray HTTP request fail at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
    os.environ[var] = "http://127.0.0.1:9"
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "localhost,127.0.0.1"

from neuronhead.models.loading import bundled_model_path  # noqa: E402

_RELIABILITY_LOG: list[dict] = []


@pytest.fixture(scope="session")
def record():
    """``record(kind, case, outcome, rows_in=None, rows_out=None)``: one row of docs/reliability.md.

    Set ``NEURONHEAD_RELIABILITY_OUT=DIR`` to keep the log as ``DIR/reliability.json``;
    ``scripts/reliability_table.py`` turns it into the table (tests/reliability and tests/cluster add rows).
    """

    def add(kind: str, case: str, outcome: str, rows_in: int | None = None, rows_out: int | None = None):
        _RELIABILITY_LOG.append(
            {"kind": kind, "case": case, "outcome": outcome, "rows_in": rows_in, "rows_out": rows_out}
        )

    yield add
    out = os.environ.get("NEURONHEAD_RELIABILITY_OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        text = json.dumps(_RELIABILITY_LOG, indent=1, ensure_ascii=False)
        (Path(out) / "reliability.json").write_text(text)


SENTENCES = [
    "I love this phone, the camera is amazing!",
    "worst service ever",
    "The meeting is moved to 3pm on Thursday.",
    "ok",
    "Not bad at all, honestly better than I expected from a sequel.",
    "@user did you see the game last night?? #NBA http://t.co/x",
]


def _bpe_tokenizer(folder: Path) -> T.PreTrainedTokenizerFast:
    """A small byte-level BPE (GPT-2 style) trained here: no GPT-2 tokenizer can be downloaded."""
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(SENTENCES * 20, vocab_size=400, min_frequency=1, special_tokens=["<|endoftext|>"])
    tok = T.GPT2TokenizerFast(
        tokenizer_object=bpe._tokenizer,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    return tok


def build_tiny(arch: str, folder: Path) -> Path:
    """Save a randomly initialised 4-layer model of ``arch`` (with a tokenizer) to ``folder``."""
    torch.manual_seed(0)
    if arch == "gpt2":
        tok = _bpe_tokenizer(folder)
        config = T.GPT2Config(
            vocab_size=len(tok),
            n_embd=32,
            n_layer=4,
            n_head=2,
            n_positions=128,
            eos_token_id=tok.eos_token_id,
            bos_token_id=tok.eos_token_id,
        )
        model = T.GPT2Model(config)
    else:
        tok = T.AutoTokenizer.from_pretrained(bundled_model_path())  # BERT WordPiece vocab
        if arch == "bert":
            config = T.BertConfig(
                hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=48
            )
            model = T.BertModel(config)
        elif arch == "roberta":
            config = T.RobertaConfig(
                hidden_size=32,
                num_hidden_layers=4,
                num_attention_heads=2,
                intermediate_size=48,
                pad_token_id=tok.pad_token_id,
                max_position_embeddings=140,
            )
            model = T.RobertaModel(config)
        elif arch == "distilbert":
            config = T.DistilBertConfig(dim=32, n_layers=4, n_heads=2, hidden_dim=48, activation="relu")
            model = T.DistilBertModel(config)
        else:
            raise ValueError(arch)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


ARCHS = ["bert", "roberta", "distilbert", "gpt2"]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {arch: build_tiny(arch, root / arch) for arch in ARCHS}


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    return bundled_model_path()
