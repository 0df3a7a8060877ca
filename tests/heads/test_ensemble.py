"""The ensemble head: its probabilities are its members' mean, and it saves, loads and scores as one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuronhead.heads.artifact import HeadError, load_head, save_head
from neuronhead.heads.ensemble import EnsembleHead, make_head
from neuronhead.heads.head import NeuronHead

FAST = {"salient_fraction": 0.25, "width": 8, "probe_params": {"max_epochs": 5, "c_grid": (1e-3, 1e-2)}}
NAMES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3, 2, 16)).astype(np.float32)
    score = 2.0 * X[:, 1, 0, 3] - 1.5 * X[:, 2, 1, 7] + 0.3 * rng.normal(size=len(X))
    y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    return X, y, score


@pytest.fixture(scope="module")
def ensemble(data):
    X, y, _ = data
    return make_head(variant="ensemble", **FAST).fit(X[:300], y[:300], label_names=NAMES)


def _softmax(d: np.ndarray) -> np.ndarray:
    return torch.softmax(torch.from_numpy(np.asarray(d, np.float64)), 1).numpy()


def test_its_probabilities_are_the_mean_of_its_members(ensemble, data):
    X = data[0][300:]
    members = [_softmax(m.decision(X, [0, 1, 2])) for m in ensemble.members_]
    np.testing.assert_allclose(ensemble.predict_proba(X, [0, 1, 2]), np.mean(members, 0), atol=1e-6)
    assert ensemble.predict_proba(X[:0], [0, 1, 2]).shape == (0, 3)  # no rows: no rows, not an error
    assert [m.variant for m in ensemble.members_] == ["values", "logits+values"]
    assert ensemble.members_[0].neuron_fraction_ == 1.0 and ensemble.members_[1].neuron_fraction_ == 0.25


def test_its_members_are_the_heads_its_parameters_describe_on_one_phase1(ensemble, data):
    """Refitting each member alone on the ensemble's Phase 1 gives the same member."""
    X, y, _ = data
    probes = ensemble.members_[0].probes_
    assert ensemble.members_[1].probes_ is probes
    alone = NeuronHead(**{**ensemble.member_params()[1]}).fit(
        X[:300], y[:300], label_names=NAMES, probes=probes
    )
    np.testing.assert_array_equal(
        alone.decision(X[300:], [0, 1, 2]), ensemble.members_[1].decision(X[300:], [0, 1, 2])
    )


def test_it_reads_the_union_of_its_members_neurons_and_stops_at_their_deepest(data):
    X, y, _ = data
    head = make_head(variant="ensemble", max_layer=1, **FAST).fit(X[:300], y[:300], label_names=NAMES)
    assert head.deepest_layer_ == 1 and head.layers_ == [0, 1]
    for layer in head.layers_:
        want = np.union1d(head.members_[0].neurons_[layer], head.members_[1].neurons_[layer])
        np.testing.assert_array_equal(head.neurons_[layer], want)
    # scoring from the union's values alone is scoring from every column
    values = {layer: X[300:, layer][:, :, head.neurons_[layer]] for layer in head.layers_}
    np.testing.assert_array_equal(head.decision_values(values), head.decision(X[300:], [0, 1, 2]))


def test_a_regression_ensemble_averages_its_members_outputs(data):
    X, _, score = data
    head = make_head("regression", variant="ensemble", **FAST).fit(X[:300], score[:300])
    members = [m.decision(X[300:], [0, 1, 2]) for m in head.members_]
    np.testing.assert_allclose(head.decision(X[300:], [0, 1, 2]), np.mean(members, 0), atol=1e-6)
    pred = head.predict(X[300:], [0, 1, 2])
    assert np.corrcoef(pred, score[300:])[0, 1] > 0.6  # it learned the signal (0.73 here; noise ~0)
    empty = head.predict(X[:0], [0, 1, 2])
    assert empty.shape == (0,) and empty.dtype == pred.dtype


def test_it_saves_and_loads_as_itself(ensemble, data, tmp_path):
    X = data[0][300:]
    save_head(ensemble, tmp_path / "e", {})
    loaded, info = load_head(tmp_path / "e")
    assert isinstance(loaded, EnsembleHead) and info.state["params"]["variant"] == "ensemble"
    np.testing.assert_array_equal(loaded.decision(X, [0, 1, 2]), ensemble.decision(X, [0, 1, 2]))
    save_head(loaded, tmp_path / "again", {})
    assert (tmp_path / "again" / "head.safetensors").read_bytes() == (
        tmp_path / "e" / "head.safetensors"
    ).read_bytes()


def test_a_record_without_its_members_is_refused(ensemble, tmp_path):
    import json

    save_head(ensemble, tmp_path / "e", {})
    info = json.loads((tmp_path / "e" / "head.json").read_text())
    info["members"] = info["members"][:1]
    (tmp_path / "e" / "head.json").write_text(json.dumps(info))
    with pytest.raises(HeadError, match="two members"):
        load_head(tmp_path / "e")


def test_variant_ensemble_is_only_the_ensembles():
    with pytest.raises(ValueError, match="EnsembleHead"):
        NeuronHead(variant="ensemble").fit(np.zeros((10, 1, 2, 4), np.float32), np.zeros(10, int))
    assert type(make_head(variant="logits")) is NeuronHead


def test_its_explanation_adds_up_to_its_output(ensemble, data):
    """Integrated gradients through both members: baseline + shares + residual is the ensemble's
    output, the log of the mean probability of the explained class."""
    from neuronhead.heads.explain import attribute

    x = data[0][300:301]
    values = {layer: x[0, layer][:, ensemble.neurons_[layer]] for layer in ensemble.layers_}
    a = attribute(ensemble, values)
    d = ensemble.decision(x, [0, 1, 2])[0]
    assert a.target == int(d.argmax()) and a.output == pytest.approx(float(d[a.target]), abs=1e-4)
    assert a.baseline + a.contribution.sum() + a.residual == pytest.approx(a.output, abs=1e-9)
    assert abs(a.residual) < 0.05 * (abs(a.output - a.baseline) + 1e-3) and a.probe is None
    assert len(a.contribution) == ensemble.n_neurons_
