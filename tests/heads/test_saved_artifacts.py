"""Heads and Phase-1 folders saved by earlier code still load, bit for bit.

``data/saved_v1`` was written by the code of commit f12e640 (before the estimators serialised
themselves) with :func:`make_saved`: ``python -m tests.heads.test_saved_artifacts tests/heads/data/saved_v1``.
Loading those files and saving them again must give the same bytes, and the loaded heads the decisions
recorded at the time (up to float32 rounding: they were computed on another machine).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from neuronhead.fitting.probes_store import load_probes, save_probes
from neuronhead.heads.artifact import load_head, save_head
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.phase1 import LayerProbes

SAVED = Path(__file__).parent / "data" / "saved_v1"
HEADS = ("head-cls", "head-reg")


def make_saved(folder: Path) -> None:
    """Two small heads (classification on its Phase 1, regression with its own), that Phase 1, the
    inputs they were scored on and their decisions."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3, 2, 16)).astype(np.float32)
    score = 2.0 * X[:, 1, 0, 3] - 1.5 * X[:, 2, 1, 7] + 0.3 * rng.normal(size=len(X))
    y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    probes = LayerProbes(folds=2, max_epochs=5, c_grid=(1e-3, 1e-2), class_weight="balanced")
    probes.fit(X[:300], y[:300], label_names=["a", "b", "c"])
    heads = {
        "head-cls": NeuronHead(salient_fraction=0.25, width=8).fit(
            X[:300], y[:300], layers=[0, 1, 2], label_names=["a", "b", "c"], probes=probes
        ),
        "head-reg": NeuronHead("regression", salient_fraction=0.25, width=4, variant="logits").fit(
            X[:300], score[:300]
        ),
    }
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"X": np.ascontiguousarray(X[300:320])}, folder / "inputs.safetensors")
    for name, head in heads.items():
        save_head(head, folder / name, {"made_by": "f12e640"})
        save_file({"decision": head.decision(X[300:320], [0, 1, 2])}, folder / name / "decision.safetensors")
    save_probes(probes, folder / "probes", {"key": {"made_by": "f12e640"}})


def _json_items(path: Path) -> list:
    """The record as ordered pairs (key order is part of the file), without the writing version."""
    info = json.loads(path.read_text(), object_pairs_hook=list)
    return [(k, v) for k, v in info if k != "neuronhead_version"]


@pytest.mark.parametrize("name", HEADS)
def test_a_saved_head_loads_and_saves_again_byte_for_byte(name, tmp_path):
    head, _ = load_head(SAVED / name)
    X = load_file(SAVED / "inputs.safetensors")["X"]
    want = load_file(SAVED / name / "decision.safetensors")["decision"]
    # float32 sums recomputed here, stored from another machine's kernels: atol scaled to the decisions
    np.testing.assert_allclose(head.decision(X, [0, 1, 2]), want, rtol=1e-6, atol=1e-5 * np.abs(want).max())
    save_head(head, tmp_path / name, {"made_by": "f12e640"})
    assert (tmp_path / name / "head.safetensors").read_bytes() == (
        SAVED / name / "head.safetensors"
    ).read_bytes()
    assert _json_items(tmp_path / name / "head.json") == _json_items(SAVED / name / "head.json")


def test_a_saved_phase1_loads_and_saves_again_byte_for_byte(tmp_path):
    probes = load_probes(SAVED / "probes")
    assert (probes.n_layers_, probes.width_, probes.n_outputs_) == (3, 16, 3)
    assert probes.with_c(1e-2).c_.tolist() == [1e-2] * 3  # every strength came back, not only the chosen
    save_probes(probes, tmp_path / "p", {"key": {"made_by": "f12e640"}})
    for f in ("probes.safetensors", "probes.json"):
        assert (tmp_path / "p" / f).read_bytes() == (SAVED / "probes" / f).read_bytes(), f


def test_the_saved_head_keeps_its_phase1_edges(tmp_path):
    """What the head kept of Phase 1 is what the saved Phase 1 holds for those neurons."""
    head, _ = load_head(SAVED / "head-cls")
    probes = load_probes(SAVED / "probes")
    for layer, idx in head.neurons_.items():
        cols = np.concatenate([idx, idx + probes.width_])
        np.testing.assert_array_equal(head.probe_weight_[layer], probes.weight_[layer][:, cols])
        np.testing.assert_array_equal(head.probe_bias_[layer], probes.bias_[layer])


if __name__ == "__main__":
    make_saved(Path(sys.argv[1]))
