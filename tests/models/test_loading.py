"""Loading: bundled default, folders, hub ids through a snapshot folder, safetensors only."""

from __future__ import annotations

import shutil

import pytest
import torch

import neuronhead.models.loading as loading
from neuronhead.models import DEFAULT_MODEL, load_model, resolve_model_path, weights_hash


def test_default_is_the_bundled_minilm(minilm_path):
    assert resolve_model_path(None) == minilm_path == resolve_model_path(DEFAULT_MODEL)
    assert (minilm_path / "model.safetensors").exists()


def test_hub_id_is_resolved_to_a_snapshot_folder_then_loaded(tiny_models, monkeypatch):
    calls = []

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None):
        calls.append((repo_id, allow_patterns))
        return str(tiny_models["distilbert"])

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_snapshot_download)
    loaded = load_model("someone/tiny-distilbert", depth=2)
    assert calls and calls[0][0] == "someone/tiny-distilbert"
    assert not any(p.endswith(".bin") for p in calls[0][1])  # never fetch pickled weights
    assert loaded.spec.name == "distilbert" and loaded.n_loaded == 2


def test_hub_id_offline_gives_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="could not fetch model 'nobody/nothing'"):
        resolve_model_path("nobody/nothing")


def test_missing_folder_is_named():
    with pytest.raises(FileNotFoundError, match="./no-such-model"):
        resolve_model_path("./no-such-model")


def test_pickled_weights_are_refused(tiny_models, tmp_path):
    folder = tmp_path / "bin-only"
    shutil.copytree(tiny_models["bert"], folder)
    state = loading.load_model(folder).model.state_dict()
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="safetensors only"):
        weights_hash(folder)
    with pytest.raises(OSError):
        load_model(folder)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_dtype_is_explicit(tiny_models, dtype):
    loaded = load_model(tiny_models["gpt2"], dtype=dtype)
    assert next(loaded.model.parameters()).dtype == getattr(torch, dtype)
    assert loaded.tokenizer.pad_token_id == loaded.tokenizer.eos_token_id
    assert loaded.tokenizer.padding_side == "right"


def test_weights_hash_changes_with_the_weights(tiny_models):
    assert weights_hash(tiny_models["bert"]) != weights_hash(tiny_models["roberta"])
    assert weights_hash(tiny_models["bert"]) == weights_hash(tiny_models["bert"])
