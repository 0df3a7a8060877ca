"""The two-phase head on synthetic data: it learns, the random control does not, artifacts round-trip."""

import json

import numpy as np
import pytest

from neuronhead.heads.artifact import HeadError, load_head, save_head
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.phase1 import LayerProbes

from .test_probes import synthetic


@pytest.fixture(scope="module")
def fitted():
    X, y = synthetic(n=1500, L=3, W=40)
    probes = LayerProbes(folds=3, max_epochs=25).fit(X[:1200], y[:1200])
    head = NeuronHead(salient_fraction=0.1, width=16).fit(
        X[:1200], y[:1200], layers=[0, 1, 2], label_names=["a", "b", "c"], probes=probes
    )
    return X, y, probes, head


def test_head_learns_and_keeps_few_neurons(fitted):
    X, y, _, head = fitted
    acc = (head.predict(X[1200:], [0, 1, 2]) == y[1200:]).mean()
    assert acc > 0.8
    assert head.n_neurons_ == 12 and head.neuron_fraction_ == pytest.approx(0.1)
    assert 3 in head.neurons_[1] and 7 in head.neurons_[2]
    proba = head.predict_proba(X[1200:], [0, 1, 2])
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    assert head.predict_proba(X[:0], [0, 1, 2]).shape == (0, 3)  # no rows: no rows, not an error


def test_random_control_is_worse(fitted):
    X, y, probes, head = fitted
    rand = NeuronHead(salient_fraction=0.1, width=16, selection="random", seed=3).fit(
        X[:1200], y[:1200], layers=[0, 1, 2], label_names=["a", "b", "c"], probes=probes
    )
    assert rand.n_neurons_ == head.n_neurons_
    acc = (rand.predict(X[1200:], [0, 1, 2]) == y[1200:]).mean()
    assert acc < 0.6


def test_max_layer_limits_the_depth(fitted):
    X, y, probes, _ = fitted
    h = NeuronHead(max_layer=1, width=8).fit(X[:1200], y[:1200], layers=[0, 1, 2], probes=probes)
    assert h.layers_ == [0, 1] and h.deepest_layer_ == 1
    # a head that stops at layer 1 needs only layers 0..1
    assert h.predict(X[1200:, :2], [0, 1]).shape == (300,)
    with pytest.raises(ValueError, match="needs layers"):
        h.predict(X[1200:, 1:], [1, 2])


def test_values_variant_and_regression():
    X = np.random.default_rng(2).normal(size=(1000, 2, 2, 30)).astype(np.float32)
    rng = np.random.default_rng(1)
    y = 3.0 * X[:, 0, 0, 2] - 2.0 * X[:, 1, 1, 4] + 0.2 * rng.normal(size=1000) + 7
    h = NeuronHead("regression", salient_fraction=0.1, width=8, variant="logits+values").fit(X[:800], y[:800])
    pred = h.predict(X[800:], [0, 1])
    assert np.corrcoef(pred, y[800:])[0, 1] > 0.95
    assert abs(pred.mean() - y[800:].mean()) < 0.5
    empty = h.predict(X[:0], [0, 1])
    assert empty.shape == (0,) and empty.dtype == pred.dtype


def test_save_load_round_trip_and_bad_folders(fitted, tmp_path):
    X, _, _, head = fitted
    save_head(head, tmp_path / "h", {"model": {"weights_sha256": "abc"}})
    loaded, info = load_head(tmp_path / "h")
    np.testing.assert_array_equal(loaded.decision(X[:50], [0, 1, 2]), head.decision(X[:50], [0, 1, 2]))
    assert info.deepest_layer == 2 and info.label_names == ["a", "b", "c"]
    assert not list((tmp_path / "h").glob(".*tmp*"))

    with pytest.raises(HeadError, match="head.json missing"):
        load_head(tmp_path)
    meta = json.loads((tmp_path / "h" / "head.json").read_text())
    (tmp_path / "h" / "head.json").write_text(json.dumps({**meta, "format": "other/9"}))
    with pytest.raises(HeadError, match="format"):
        load_head(tmp_path / "h")
    (tmp_path / "h" / "head.json").write_text(json.dumps({**meta, "n_outputs": 5}))
    with pytest.raises(HeadError, match="shape"):
        load_head(tmp_path / "h")
    (tmp_path / "h" / "head.json").write_text(json.dumps(meta))
    (tmp_path / "h" / "head.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(HeadError, match="cannot read weights"):
        load_head(tmp_path / "h")
