"""`neuronhead fit` / `evaluate` end to end on the demo set with the bundled MiniLM (in-process engine)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuronhead.cli import main
from neuronhead.fitting.train import FitOptions, fit_head
from neuronhead.heads.artifact import load_head
from neuronhead.models import HookedModel, load_model, tokenize
from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Capture, Engine, Output
from neuronhead.run.from_data import evaluate_from_data
from neuronhead.store import load_features
from tests.paths import DEMO


@pytest.fixture(scope="module")
def demo_features(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    for split in ("train", "val"):
        extract(
            DEMO / f"{split}.csv",
            root / split,
            engine=Engine("local"),
            capture=Capture(embeddings=True),
            output=Output(progress=False),
        )
    return root


@pytest.mark.slow
def test_fit_writes_head_report_ranking_and_plots(demo_features, tmp_path):
    out = tmp_path / "head"
    report = fit_head(
        demo_features / "train",
        out,
        val_features=demo_features / "val",
        params={"probe_params": {"folds": 3}},
        options=FitOptions(baselines=True, progress=False),
    )
    assert report["metric"] == "macro_f1" and report["train_rows"] == 360
    assert report["val"]["accuracy"] > 60  # three well-separated classes, chance is 33
    sel = report["selection"]  # the default (prefer robust) searches nothing: it ships the ensemble
    assert (sel["prefer"], sel["chosen"], sel["candidates"]) == ("robust", "ensemble@0..5", [])
    assert report["val_is_held_out"] and report["val_interval"]["lo"] <= report["val"]["macro_f1"]
    assert report["head"]["variant"] == "ensemble" and report["head"]["deepest_layer"] == 5
    assert report["head"]["neuron_fraction"] == 1.0  # its all-layer probe reads every neuron
    assert set(report["depth_curve"]) == set(range(6)) and set(report["per_layer"]) == set(range(6))
    for name in ("all_layers_concatenated", "random_neurons", "embed_mean", "embed_token"):
        assert "accuracy" in report["baselines"][name]
    for f in ("head.safetensors", "head.json", "report.json", "ranking.csv"):
        assert (out / f).is_file()
    assert {p.name for p in (out / "plots").iterdir()} == {
        "per_layer.png",
        "depth_curve.png",
        "salient_per_layer.png",
        "confusion.png",
    }
    head, info = load_head(out)
    assert info.model.name == "bundled:all-MiniLM-L6-v2" and info.label_names[0] == "negative"
    ranking = (out / "ranking.csv").read_text().splitlines()
    assert len(ranking) == 1 + 6 * 1536 and ranking[0] == "layer,neuron,importance,rank,salient"

    # Scoring needs only the salient neurons: extracting just those reproduces the stored features.
    loaded = load_model(info.model.path, depth=head.deepest_layer_ + 1)
    texts = ["what a great day", "this is awful", "the bus leaves at 5"]
    tokens = tokenize(loaded.tokenizer, texts, 128)
    salient = HookedModel(loaded, head.layers_, neurons=head.neurons_).features(tokens)
    full = HookedModel(loaded, head.layers_).features(tokens)
    np.testing.assert_allclose(
        head.decision_values(salient),
        head.decision(np.stack([full[k] for k in head.layers_], 1), head.layers_),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.slow
def test_regression_with_a_held_out_fraction(demo_features, tmp_path):
    feats = load_features(demo_features / "train")
    assert feats["X"].shape[0] == 360
    # a numeric target: the demo label id, treated as a value
    report = fit_head(
        demo_features / "train",
        tmp_path / "reg",
        task="regression",
        val_fraction=0.25,
        params={"probe_params": {"folds": 3}},
        options=FitOptions(plots=False, depth_curve=False, progress=False),
    )
    assert report["metric"] == "pearson" and report["val"]["pearson"] > 0.5
    assert 60 < report["train_rows"] < 330


@pytest.mark.slow
def test_cli_fit_then_evaluate(tmp_path, capsys):
    cache = tmp_path / "cache"
    rc = main(
        [
            "fit",
            "--train",
            str(DEMO / "train.csv"),
            "--val",
            str(DEMO / "val.csv"),
            "--out",
            str(tmp_path / "h"),
            "--cache",
            str(cache),
            "--engine",
            "local",
            "--max-layer",
            "2",
            "--width",
            "32",
            "--folds",
            "3",
            "--no-plots",
        ]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["deepest_layer"] <= 2 and max(summary["layers"]) == summary["deepest_layer"]
    rc = main(
        [
            "evaluate",
            "--head",
            str(tmp_path / "h"),
            "--data",
            str(DEMO / "val.csv"),
            "--cache",
            str(cache),
            "--engine",
            "local",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{") :])
    assert result["rows"] == 120 and result["metric"] == "macro_f1" and result["accuracy"] > 50
    assert result["interval"]["lo"] <= result["macro_f1"] <= result["interval"]["hi"]


def test_evaluate_refuses_features_from_another_model(demo_features, tmp_path, tiny_models):
    fit_head(
        demo_features / "train",
        tmp_path / "h",
        params={"probe_params": {"folds": 2, "max_epochs": 2}},
        options=FitOptions(plots=False, depth_curve=False, select=None, progress=False),
    )
    other = tmp_path / "other"
    extract(
        str(DEMO / "val.csv"),
        other,
        model=str(tiny_models["bert"]),
        engine=Engine("local"),
        output=Output(progress=False),
    )
    with pytest.raises(ValueError, match="different model"):
        evaluate_from_data(tmp_path / "h", features=other)
