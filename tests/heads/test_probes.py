"""Phase 1: the batched probes are exactly independent per-layer probes; importance finds signal."""

import numpy as np
import torch

from neuronhead.heads.options import ProbeSettings
from neuronhead.heads.phase1 import LayerProbes, neuron_columns
from neuronhead.heads.probes import ProbeTrainer, split_of


def synthetic(n=1200, L=3, W=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, L, 2, W)).astype(np.float32)
    score = 2.0 * X[:, 1, 0, 3] - 1.5 * X[:, 2, 1, 7] + 0.3 * rng.normal(size=n)
    y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    return X, y


def test_batched_logits_equal_per_probe_matmul():
    s = ProbeSettings(folds=2, c_grid=(0.01, 0.1))
    t = ProbeTrainer(s, n_layers=3, n_features=8, n_outputs=3, n_rows=100)
    with torch.no_grad():
        t.weight.normal_()
        t.bias.normal_()
    x = torch.randn(5, 3, 8)
    out = t.logits(x)  # (B, P, L, C)
    w = t.weight.view(3, 8, t.P, 3)
    for p in range(t.P):
        for layer in range(3):
            ref = x[:, layer] @ w[layer, :, p] + t.bias[p, layer]
            torch.testing.assert_close(out[:, p, layer], ref)


def test_layers_trained_together_equal_layers_trained_alone():
    X, y = synthetic(n=600)
    kw = dict(folds=2, c_grid=(0.01,), max_epochs=4, patience=10, batch_size=128)
    together = LayerProbes(**kw).fit(X, y)
    alone = LayerProbes(**kw).fit(X[:, 1:2], y)
    np.testing.assert_allclose(together.fold_weight_[:, 1], alone.fold_weight_[:, 0], rtol=1e-4, atol=1e-6)


def test_importance_ranks_the_informative_neurons_first():
    X, y = synthetic()
    probes = LayerProbes(folds=3, max_epochs=30).fit(X[:900], y[:900])
    assert probes.importance_.shape == (3, 24)
    assert probes.importance_[1].argmax() == 3
    assert probes.importance_[2].argmax() == 7
    # the informative layers predict well, the noise layer does not
    acc = (probes.predict_layer(X[900:]) == y[900:, None]).mean(0)
    assert acc[1] > 0.5 and acc[2] > 0.45 and acc[0] < 0.42
    ranking = probes.ranking()
    assert ranking[24] == (1, 3, float(probes.importance_[1, 3]))


def test_out_of_fold_outputs_come_from_the_fold_that_did_not_see_the_row():
    X, y = synthetic(n=300)
    probes = LayerProbes(folds=3, max_epochs=3).fit(X, y)
    keep = {1: np.array([3, 5]), 2: np.array([7])}
    oof = probes.decision(X, keep, out_of_fold=True)
    bag = probes.decision(X, keep)
    assert oof.shape == (300, 2, 3)
    std = probes.standardized(X, keep)
    for i in (0, 1, 2, 150):
        k = probes.split_[i]
        w = probes.fold_weight_[k, 1][:, neuron_columns(keep[1], 24)]
        np.testing.assert_allclose(oof[i, 0], std[1][i] @ w.T + probes.fold_bias_[k, 1], rtol=1e-5, atol=1e-5)
    w = probes.weight_[2][:, neuron_columns(keep[2], 24)]
    np.testing.assert_allclose(bag[:, 1], std[2] @ w.T + probes.bias_[2], rtol=1e-5, atol=1e-5)


def test_splits_are_stable_and_balanced():
    rows = np.arange(10_000)
    s = split_of(rows, 5)
    assert (split_of(rows[::-1], 5) == s[::-1]).all()
    counts = np.bincount(s, minlength=5)
    assert counts.min() > 1800


def test_selection_by_metric_uses_out_of_fold_predictions_of_every_strength():
    X, y = synthetic(n=600)
    grid = (1e-4, 1e-2, 1.0)
    probes = LayerProbes(folds=3, c_grid=grid, max_epochs=4, select="macro_recall").fit(X, y)
    # Recompute the out-of-fold macro-recall of each (layer, strength) from the kept grid weights.
    Xs = probes._standardize_all(X)
    for layer in range(3):
        for g in range(len(grid)):
            pred = np.empty(len(y), int)
            near_tie = np.zeros(len(y), bool)
            for k in range(3):
                rows = probes.split_ == k
                w, b = probes.grid_weight_[k, g, layer], probes.grid_bias_[k, g, layer]
                logits = Xs[rows, layer] @ w.T + b
                pred[rows] = logits.argmax(1)
                top = np.sort(logits, 1)
                # float32 sums over 48 inputs, numpy here and torch in the fit: a near tie may go either way
                near_tie[rows] = top[:, -1] - top[:, -2] < 1e-5 * np.abs(logits).max()
            recall = np.mean([(pred[y == c] == c).mean() for c in range(3)])
            slack = 100 * np.mean([near_tie[y == c].mean() for c in range(3)])  # 0 without near ties
            assert abs(probes.grid_score_[layer, g] - 100 * recall) <= slack + 1e-6
    chosen = np.asarray(grid)[probes.grid_score_.argmax(1)]
    np.testing.assert_array_equal(probes.c_, chosen)


def test_with_c_swaps_in_another_strength_without_refitting():
    X, y = synthetic(n=600)
    probes = LayerProbes(folds=2, c_grid=(1e-4, 1e-1), max_epochs=3).fit(X, y)
    weak = probes.with_c(1e-1)
    assert (weak.c_ == 1e-1).all() and probes.c_ is not weak.c_
    np.testing.assert_array_equal(weak.fold_weight_, probes.grid_weight_[:, 1])
    assert np.abs(weak.weight_).sum() > np.abs(probes.with_c(1e-4).weight_).sum()
    try:
        probes.with_c(0.5)
    except ValueError as e:
        assert "not in the fitted grid" in str(e)
    else:
        raise AssertionError("a strength outside the grid must be refused")


def test_standardizer_sums_wide_chunks_in_blocks_without_touching_the_input(monkeypatch):
    """Blocks bound the float64 held at once; the statistics are those of one pass, and a float64
    input is not squared in place."""
    import neuronhead.heads.standardize as standardize

    X = np.random.default_rng(0).normal(3.0, 2.0, size=(1000, 3, 40))
    kept = X.copy()
    whole = standardize.Standardizer().fit(X)
    monkeypatch.setattr(standardize, "BLOCK_BYTES", 8 * 120 * 7)  # 7 rows a block
    blocks = standardize.Standardizer().fit(X)
    np.testing.assert_allclose(blocks.mean_, whole.mean_, rtol=1e-6)
    np.testing.assert_allclose(blocks.scale_, whole.scale_, rtol=1e-6)
    np.testing.assert_allclose(whole.mean_, X.mean(0), rtol=1e-5)
    np.testing.assert_array_equal(X, kept)
