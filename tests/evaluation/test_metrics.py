import numpy as np
import pytest

from neuronhead.evaluation.metrics import (
    classification_metrics,
    confusion,
    headline,
    official_metric,
    regression_metrics,
)
from neuronhead.heads.salient import select_random, select_salient
from neuronhead.heads.standardize import Standardizer


def test_classification_metrics_from_a_known_confusion():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    p = np.array([0, 0, 1, 2, 1, 1, 2, 2, 0, 2])
    cm = confusion(y, p, 3)
    assert cm.tolist() == [[2, 1, 1], [0, 2, 0], [1, 0, 3]]
    m = classification_metrics(y, p, ["neg", "neu", "pos"])
    assert m["accuracy"] == pytest.approx(70.0)
    assert m["macro_recall"] == pytest.approx(100 * (2 / 4 + 2 / 2 + 3 / 4) / 3)
    f1_neu = 2 * (2 / 3) * 1 / (2 / 3 + 1)
    assert m["f1_neu"] == pytest.approx(100 * f1_neu)


def test_stance_metric_averages_against_and_favor():
    y = np.array([0, 1, 2, 1, 2])
    p = np.array([0, 1, 2, 2, 2])
    m = classification_metrics(y, p, ["none", "against", "favor"])
    assert m["f1_against_favor"] == pytest.approx((m["f1_against"] + m["f1_favor"]) / 2)


@pytest.mark.parametrize(
    "task,metric",
    [
        ("sentiment", "macro_recall"),
        ("irony", "f1_irony"),
        ("stance_hillary", "f1_against_favor"),
        ("emotion", "macro_f1"),
        ("hate", "macro_f1"),
        (None, "macro_f1"),
    ],
)
def test_official_tweeteval_metric(task, metric):
    assert official_metric(task) == metric


def test_regression_metrics_with_ties():
    y = np.array([1.0, 2.0, 2.0, 3.0, 5.0])
    p = np.array([1.5, 1.5, 2.5, 3.0, 4.0])
    m = regression_metrics(y, p)
    assert m["mae"] == pytest.approx(np.mean(np.abs(p - y)))
    assert m["pearson"] == pytest.approx(np.corrcoef(y, p)[0, 1])
    scipy_stats = pytest.importorskip("scipy.stats")
    assert m["spearman"] == pytest.approx(scipy_stats.spearmanr(y, p).statistic)
    assert headline(m, "mae") == -m["mae"]


def test_streaming_standardizer_matches_numpy():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(1001, 3, 2, 5)) * 7 + 3).astype(np.float16)
    X[:, 0, 0, 0] = 1.5  # constant feature keeps scale 1
    s = Standardizer().fit(X, chunk_rows=100)
    ref = X.astype(np.float64)
    np.testing.assert_allclose(s.mean_, ref.mean(0), rtol=1e-5, atol=1e-5)
    std = ref.std(0)
    std[0, 0, 0] = 1.0
    np.testing.assert_allclose(s.scale_, std, rtol=1e-4)


def test_select_salient_fraction_and_share():
    imp = np.array([[5.0, 1.0, 3.0, 0.0, 4.0, 2.0, 0.5, 0.1, 0.2, 0.3]])
    assert select_salient(imp, fraction=0.3)[0].tolist() == [0, 2, 4]
    # squares: 25, 16, 9, ... of total 56.39; 25 + 16 = 41 < 0.75·56.39 = 42.3 → three neurons
    assert select_salient(imp, share=0.75)[0].tolist() == [0, 2, 4]
    assert select_salient(imp, share=0.4)[0].tolist() == [0]
    with pytest.raises(ValueError, match="exactly one"):
        select_salient(imp, fraction=0.1, share=0.5)
    rnd = select_random({0: 3, 2: 4}, width=10, seed=1)
    assert [len(v) for v in rnd.values()] == [3, 4] and len(set(rnd[2].tolist())) == 4
