"""Bootstrap intervals equal a direct recomputation, replicate by replicate."""

from __future__ import annotations

import numpy as np
import pytest

from neuronhead.evaluation.bootstrap import BootstrapOptions, interval, paired, resample_indices
from neuronhead.evaluation.metrics import classification_metrics, headline, regression_metrics

OPTS = BootstrapOptions(replicates=200, seed=3)


def _direct(y, pred, fn, opts):
    reps = np.array([fn(y[i], pred[i]) for i in resample_indices(len(y), opts)])
    lo, hi = np.percentile(reps, [2.5, 97.5])
    return lo, hi, reps.std(ddof=1)


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1", "macro_recall", "f1_against_favor", "f1_none"])
def test_classification_interval_equals_recomputation(metric):
    rng = np.random.default_rng(0)
    names = ["none", "against", "favor"]
    y = rng.integers(0, 3, 150)
    pred = np.where(rng.random(150) < 0.6, y, rng.integers(0, 3, 150))
    got = interval(y, pred, metric, names, OPTS)
    lo, hi, se = _direct(y, pred, lambda a, b: classification_metrics(a, b, names)[metric], OPTS)
    assert (got["lo"], got["hi"], got["se"]) == pytest.approx((lo, hi, se))
    assert got["score"] == pytest.approx(classification_metrics(y, pred, names)[metric])
    assert got["lo"] < got["score"] < got["hi"]


def test_regression_interval_equals_recomputation():
    rng = np.random.default_rng(1)
    y = rng.normal(size=80)
    pred = y + rng.normal(scale=0.8, size=80)
    got = interval(y, pred, "mse", None, OPTS)
    lo, hi, se = _direct(y, pred, lambda a, b: headline(regression_metrics(a, b), "mse"), OPTS)
    assert (got["lo"], got["hi"], got["se"]) == pytest.approx((lo, hi, se))


def test_paired_verdicts():
    rng = np.random.default_rng(2)
    names = ["a", "b"]
    y = rng.integers(0, 2, 300)
    noisy = np.where(rng.random(300) < 0.5, y, 1 - y)
    assert paired(y, y, noisy, "macro_f1", names, OPTS)["verdict"] == "A"
    assert paired(y, noisy, y, "macro_f1", names, OPTS)["verdict"] == "B"
    same = paired(y, noisy, noisy, "macro_f1", names, OPTS)
    assert same["verdict"] == "tie" and same["score"] == 0 and same["se"] == 0
