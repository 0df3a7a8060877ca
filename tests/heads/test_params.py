"""The estimators' parameter contract, as scikit-learn defines it: ``__init__`` stores its arguments
untouched, ``get_params``/``set_params`` read the signature, checking waits for ``fit``."""

from __future__ import annotations

import inspect
from dataclasses import fields

import numpy as np
import pytest

from neuronhead.heads.baselines import LinearBaseline
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.options import ProbeSettings
from neuronhead.heads.params import Params
from neuronhead.heads.phase1 import LayerProbes
from neuronhead.heads.standardize import Standardizer

from .test_probes import synthetic


@pytest.mark.parametrize("cls", [NeuronHead, LayerProbes, Standardizer, LinearBaseline])
def test_params_are_the_signature_and_clone_round_trips(cls):
    names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    est = cls()
    assert list(est.get_params()) == names == cls.param_names()
    clone = cls(**est.get_params(deep=False))
    assert clone is not est and clone.get_params() == est.get_params()


def test_init_stores_its_arguments_untouched_and_checks_in_fit():
    probe_params = {"folds": 2, "max_epochs": 2}
    grid = [1e-3, 1e-2]
    head = NeuronHead(probe_params=probe_params, variant="no-such-variant")
    probes = LayerProbes(c_grid=grid)
    assert head.probe_params is probe_params and probes.c_grid is grid
    assert probes.settings().c_grid == (1e-3, 1e-2)  # the trainer still gets a tuple
    X, y = synthetic(n=200, L=3, W=8)
    with pytest.raises(ValueError, match="variant must be one of"):
        head.fit(X, y)
    assert probe_params == {"folds": 2, "max_epochs": 2}


def test_set_params_sets_returns_self_and_refuses_unknown_names():
    head = NeuronHead()
    assert head.set_params(width=4, variant="logits") is head
    assert (head.width, head.variant) == (4, "logits")
    assert head.get_params()["width"] == 4
    with pytest.raises(ValueError, match="invalid parameter 'widht'"):
        head.set_params(widht=8)


class _Outer(Params):
    def __init__(self, inner: Standardizer | None = None, k: int = 1) -> None:
        self.inner = inner
        self.k = k


def test_deep_params_reach_into_an_estimator_valued_parameter():
    outer = _Outer(Standardizer(eps=1e-3))
    assert outer.get_params()["inner__eps"] == 1e-3
    assert "inner__eps" not in outer.get_params(deep=False)
    outer.set_params(inner__eps=1e-5, k=2)
    assert outer.inner.eps == 1e-5 and outer.k == 2


def test_a_signature_with_kwargs_is_refused():
    class Loose(Params):
        def __init__(self, **kwargs) -> None:
            self.kwargs = kwargs

    with pytest.raises(TypeError, match="must be named"):
        Loose().get_params()


def test_layer_probes_training_parameters_are_probe_settings():
    """One definition: ProbeSettings' fields and defaults are LayerProbes' training parameters, and
    what a saved Phase 1 records."""
    assert LayerProbes().settings() == ProbeSettings()
    names = [f.name for f in fields(ProbeSettings)]
    assert LayerProbes.param_names() == [*names, "max_memory_gb", "progress"]
    assert list(LayerProbes(folds=2).training_params()) == names[1:]


def test_fit_targets_is_what_every_engine_trains_on():
    """Streamed and Ray Train fits prepare targets with the estimator's own method: a regression target
    standardized by its mean and spread, classes with balanced weights."""
    y = np.array([1.0, 2.0, 4.0, 5.0])
    reg = LayerProbes("regression")
    target, cw = reg.fit_targets(y)
    assert cw is None and reg.n_outputs_ == 1 and reg.target_standardization() == (3.0, np.std(y))
    np.testing.assert_allclose(target, (y - 3.0) / np.std(y))
    cls = LayerProbes(class_weight="balanced")
    target, cw = cls.fit_targets(np.array([0, 0, 0, 1]), n_outputs=3)
    assert cls.n_outputs_ == 3 and cls.target_standardization() is None
    np.testing.assert_allclose(cw, [4 / 9, 4 / 3, 4 / 3])
