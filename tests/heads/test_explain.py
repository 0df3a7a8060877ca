"""Explanations add up: exact for linear heads, integrated gradients within their residual for dense ones."""

import numpy as np
import pytest

from neuronhead.heads.explain import attribute, is_linear
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.phase1 import LayerProbes

from .test_probes import synthetic

LAYERS = [0, 1, 2]


@pytest.fixture(scope="module")
def data():
    X, y = synthetic(n=900, L=3, W=30)
    probes = LayerProbes(folds=2, max_epochs=15, c_grid=(0.1,)).fit(X[:800], y[:800])
    return X, y, probes


def _fit(data, **params):
    X, y, probes = data
    return NeuronHead(salient_fraction=0.1, **params).fit(X[:800], y[:800], layers=LAYERS, probes=probes)


def _check_sums(head, X, tol):
    decision = head.decision(X[800:820], LAYERS)
    for row in range(20):
        values = head.salient_values(X[800 + row : 801 + row], LAYERS)
        a = attribute(head, {layer: v[0] for layer, v in values.items()})
        assert a.target == int(decision[row].argmax())
        assert a.output == pytest.approx(float(decision[row, a.target]), abs=1e-4)  # = the head's logit
        assert a.baseline + a.contribution.sum() + a.residual == pytest.approx(a.output, abs=1e-9)
        assert abs(a.residual) <= tol
        assert len(a.contribution) == head.n_neurons_ == len(a.layer) == len(a.index)


@pytest.mark.parametrize(
    "params", [{"variant": "values", "width": 0}, {"variant": "probe", "min_layer": 1, "max_layer": 1}]
)
def test_a_linear_head_is_split_exactly(data, params):
    head = _fit(data, **params)
    assert is_linear(head)
    _check_sums(head, data[0], tol=1e-9)


def test_a_dense_head_is_split_up_to_a_small_residual(data):
    head = _fit(data, variant="logits+values", width=16)
    assert not is_linear(head)
    _check_sums(head, data[0], tol=1e-3)


def test_probe_shares_are_each_layer_probes_logit_minus_its_bias(data):
    X, _, _ = data
    head = _fit(data, variant="logits+values", width=16)
    values = {layer: v[0] for layer, v in head.salient_values(X[850:851], LAYERS).items()}
    a = attribute(head, values, target=2)
    for layer in head.layers_:
        std = ((values[layer] - head.mean_[layer]) / head.scale_[layer]).reshape(-1)
        logit = std @ head.probe_weight_[layer][2] + head.probe_bias_[layer][2]
        here = a.layer == layer
        assert a.probe[here].sum() + head.probe_bias_[layer][2] == pytest.approx(logit, abs=1e-4)


def test_the_planted_neurons_lead_the_explanation(data):
    """The synthetic label is made of neuron 3 of layer 1 (and neuron 7 of layer 2): for texts far
    from its mean, it moves layer 1's probe most."""
    X, _, _ = data
    head = _fit(data, variant="probe", min_layer=1, max_layer=1)
    strong = np.argsort(-np.abs(X[800:, 1, 0, 3]))[:5] + 800
    for row in strong:
        values = {layer: v[0] for layer, v in head.salient_values(X[row : row + 1], LAYERS).items()}
        a = attribute(head, values)
        top = a.top(1)[0]
        assert (a.layer[top], a.index[top]) == (1, 3)


def test_a_regression_head_is_explained_in_its_own_units():
    X, y = synthetic(n=700, L=3, W=20, seed=1)
    target = X[:, 1, 0, 3] * 4.0 + 10.0
    params = {"folds": 2, "max_epochs": 15}
    head = NeuronHead("regression", salient_fraction=0.2, variant="values", width=0, probe_params=params)
    head.fit(X[:600], target[:600], layers=LAYERS)
    values = {layer: v[0] for layer, v in head.salient_values(X[650:651], LAYERS).items()}
    a = attribute(head, values)
    assert a.output == pytest.approx(float(head.predict(X[650:651], LAYERS)[0]), abs=1e-3)
    assert a.baseline + a.contribution.sum() == pytest.approx(a.output, abs=1e-6)
