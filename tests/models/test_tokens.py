"""The portable tokenizer that pipelines ship to their tokenize stage gives exactly ``tokenize``'s ids.

The pipelines tokenize with the fast tokenizer's Rust backend alone, in workers that import neither
torch nor transformers; what the model sees must not change with that (features bit-identical).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from neuronhead.data import plan_source, resolve_source
from neuronhead.models import load_model, tokenize
from neuronhead.models.loading import load_tokenizer, portable_tokenizer
from neuronhead.models.tokens import PortableTokenizer
from neuronhead.pipelines.shards import plan_shards, prepare_shard
from tests.tiny_models import ARCHS, SENTENCES, UNICODE_TEXT

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo" / "val.csv"
TEXTS = [
    *SENTENCES,
    UNICODE_TEXT,
    "hi </s> there <s> and [SEP] or [CLS] <|endoftext|> bye",  # control strings typed by a user: text
    "  leading and trailing spaces  ",
    "@user http://t.co/x #tag 🦜🫠 " * 40,  # longer than max_length: truncated
    "x",
]


@pytest.fixture(scope="module", params=["minilm", *ARCHS])
def model_folder(request, tiny_models, minilm_path):
    return str(minilm_path if request.param == "minilm" else tiny_models[request.param])


@pytest.mark.parametrize("max_length", [128, 8])
def test_backend_tokenizes_exactly_as_transformers(model_folder, max_length):
    tokenizer = load_tokenizer(model_folder)
    portable = PortableTokenizer.of(tokenizer, max_length, model_folder)
    assert portable.backend is not None  # every kind shipped here has a fast tokenizer
    expected, got = tokenize(tokenizer, TEXTS, max_length), portable(TEXTS)
    assert got.ids == expected.ids
    assert got.special == expected.special
    assert got.truncated == expected.truncated
    assert any(got.truncated) and not all(got.truncated)
    assert len(repr(portable)) < 200  # the backend's JSON stays out of logs and error messages


def test_the_backend_survives_pickling_and_ignores_what_transformers_left_set(model_folder):
    """A transformers call leaves truncation and padding set on its backend; the copy resets both."""
    tokenizer = load_tokenizer(model_folder)
    tokenizer(TEXTS, padding="max_length", max_length=64, truncation=True)
    portable = pickle.loads(pickle.dumps(PortableTokenizer.of(tokenizer, 128, model_folder)))
    fresh = load_tokenizer(model_folder)
    assert portable(TEXTS).ids == tokenize(fresh, TEXTS, 128).ids


def test_without_a_backend_the_worker_loads_the_tokenizer(minilm_path):
    """A slow tokenizer travels as its folder and tokenizes with transformers in the worker."""

    class Slow:
        is_fast = False

    portable = PortableTokenizer.of(Slow(), 16, str(minilm_path))
    assert (portable.backend, portable.model_path) == (None, str(minilm_path))
    expected = tokenize(load_model(minilm_path).tokenizer, TEXTS, 16)
    assert portable(TEXTS) == expected
    assert replace(portable, max_length=128)(TEXTS) != expected  # max_length is honoured


def test_the_read_and_tokenize_task_imports_neither_torch_nor_transformers(minilm_path):
    """What a Ray read-and-tokenize task (``pipelines.actor_pool``) unpickles and runs, in a fresh process."""
    plan = plan_source(resolve_source(DEMO))
    shard = plan_shards(plan, 25)[1]
    shipped = pickle.dumps((prepare_shard, plan, shard, portable_tokenizer(str(minilm_path), 128)))
    code = (
        "import pickle, sys\n"
        "prepare, *args = pickle.loads(sys.stdin.buffer.read())\n"
        "shard = prepare(*args).to_pylist()[0]\n"
        "print(shard['row'][0], len(shard['input_ids']), all(shard['input_ids']))\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], input=shipped, capture_output=True, check=True)
    assert done.stdout.decode().split("\n")[:2] == ["25 25 True", "[]"]
