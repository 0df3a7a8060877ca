"""`neuronhead tune` on the demo set: the leaderboard, refits, Pareto front, reproducibility and resume."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from neuronhead.evaluation.metrics import classification_metrics
from neuronhead.heads.artifact import load_head
from neuronhead.store import load_features
from tests.demo_features import extract_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import ray

    from neuronhead.cluster.connect import ensure_ray

    root = tmp_path_factory.mktemp("tune")
    extract_demo(root, "0-2")
    ensure_ray(num_cpus=2)
    yield root
    ray.shutdown()


def _leaderboard(folder):
    with open(folder / "leaderboard.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_search_writes_leaderboard_refits_and_resumes(demo, tmp_path):
    from neuronhead.tune import TuneOptions, tune_head

    out = tmp_path / "a"
    summary = tune_head(demo / "train", demo / "val", out, TuneOptions(trials=5, seed=3), progress=False)
    rows = _leaderboard(out)
    assert len(rows) == summary["trials"] == 5
    assert sorted(int(r["trial"]) for r in rows) == list(range(5))
    scores = [float(r["macro_f1"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    # trial 0 is the default head, so the leaderboard measures the margin over it
    default = next(r for r in rows if r["trial"] == "0")
    assert default["variant"] == "logits+values" and float(default["salient_fraction"]) == 0.05
    assert summary["margin_over_default"] == pytest.approx(scores[0] - float(default["macro_f1"]), abs=1e-3)

    # Trials are scored on dev, carved from train; the best head is refitted on all of train and
    # scored on val once, and that figure is the one its folder and the summary report.
    assert summary["selected_on"] == "dev" and summary["val_is_held_out"]
    head, _ = load_head(out / "best-head")
    info = json.loads((out / "best-head" / "head.json").read_text())
    assert info["tuning"]["trial"] == int(rows[0]["trial"])
    val = load_features(demo / "val")
    pred = head.predict(val["X"], val["manifest"].layers)
    refit_val = classification_metrics(val["label"].astype(int), pred, info["label_names"])["macro_f1"]
    assert info["val_metrics"]["macro_f1"] == pytest.approx(refit_val, abs=1e-6)
    assert summary["refits"]["best-head"]["macro_f1"] == pytest.approx(refit_val, abs=1e-3)
    assert head.deepest_layer_ == int(rows[0]["deepest_layer"])
    assert head.predict(val["X"], val["manifest"].layers).shape == (len(val["label"]),)

    # Pareto table: one row per deepest layer tried, the best of that depth; front heads are saved.
    with open(out / "pareto.csv") as fh:
        front = list(csv.DictReader(fh))
    depths = {int(r["deepest_layer"]) for r in rows}
    assert depths == {0, 1, 2}  # trials 1..2 are the default head at every shallower depth
    assert {int(p["deepest_layer"]) for p in front} == depths
    for p in front:
        same = [float(r["macro_f1"]) for r in rows if int(r["deepest_layer"]) == int(p["deepest_layer"])]
        assert float(p["macro_f1"]) == max(same)
        if p["on_front"] == "True":
            assert load_head(out / p["head"])[0].deepest_layer_ == int(p["deepest_layer"])
    for name in ("neuron_fraction", "width", "deepest_layer", "pareto"):
        assert (out / "plots" / f"tune-{name}.png").stat().st_size > 5000
    margin = summary["margin_over_default"]  # the page states the same lead over the default head
    assert f"; margin {margin:+.4g}." in (out / "leaderboard.md").read_text()

    # Same seed, another folder: the same leaderboard. Same folder: resumed, nothing refitted.
    again = tune_head(
        demo / "train", demo / "val", tmp_path / "b", TuneOptions(trials=5, seed=3), progress=False
    )
    for name in ("leaderboard.csv", "leaderboard.md", "pareto.csv"):
        assert (tmp_path / "b" / name).read_text() == (out / name).read_text(), name
    assert not again["resumed"]
    resumed = tune_head(demo / "train", demo / "val", out, TuneOptions(trials=5, seed=3), progress=False)
    assert resumed["resumed"] and resumed["phase1_reused"]
    assert (out / "leaderboard.csv").read_text() == (tmp_path / "b" / "leaderboard.csv").read_text()


@pytest.mark.slow
def test_phase1_regularisation_is_searched_without_refitting(demo, tmp_path):
    from neuronhead.fitting.probes_store import load_probes
    from neuronhead.tune.space import head_params

    params, c = head_params(
        {
            "selection": "share",
            "salient_share": 0.5,
            "width": 0,
            "variant": "logits",
            "max_layer": 1,
            "lr": 1e-3,
            "weight_decay": 1e-2,
            "dropout": 0.1,
            "phase1_c": 1e-3,
        }
    )
    assert params["salient_fraction"] is None and params["salient_share"] == 0.5 and c == 1e-3
    from neuronhead.tune import TuneOptions, tune_head

    tune_head(demo / "train", demo / "val", tmp_path, TuneOptions(trials=1), progress=False)
    probes = load_probes(tmp_path / "phase1")
    assert probes.grid_weight_.shape[:3] == (3, 4, 3)  # folds, L2 grid, layers: every strength kept
    np.testing.assert_array_equal(probes.with_c(1e-3).fold_weight_, probes.grid_weight_[:, 2])


def test_options_refuse_an_unknown_selection_split():
    from neuronhead.tune import TuneOptions

    assert TuneOptions().select_on == "dev"
    with pytest.raises(ValueError, match="select_on must be 'dev' or 'val', not 'train'"):
        TuneOptions(select_on="train")
