"""An ensemble head scores like any head: `score`, `neuronhead.load` and the model recomputation agree,
and the model stops at its deepest member's layer."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

import neuronhead
from neuronhead.fitting.train import FitOptions, fit_head
from neuronhead.heads.artifact import load_head
from neuronhead.heads.ensemble import EnsembleHead
from neuronhead.models import HookedModel, load_model, tokenize
from neuronhead.pipelines.options import Engine, Output
from neuronhead.pipelines.scoring import score
from tests.demo_features import extract_demo
from tests.paths import DEMO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    """The default `fit` (prefer robust: the ensemble) on the demo features of layers 0..3, told to
    stop after layer 1."""
    root = extract_demo(tmp_path_factory.mktemp("ensemble"), "0-3")
    fit_head(
        root / "train",
        root / "ens",
        val_features=root / "val",
        params={"max_layer": 1, "probe_params": {"folds": 2, "max_epochs": 4}},
        options=FitOptions(depth_curve=False, plots=False, progress=False),
    )
    return root


def test_score_and_load_equal_the_ensemble_recomputed_from_the_model(ensemble, tmp_path):
    head, info = load_head(ensemble / "ens")
    assert isinstance(head, EnsembleHead) and info.state["selection"]["chosen"] == "ensemble@0..1"
    assert head.deepest_layer_ == 1
    result = score([str(ensemble / "ens")], DEMO / "val.csv", tmp_path / "s", engine=Engine("local"),
                   output=Output(progress=False))  # fmt: skip
    assert result["deepest_layer"] == 1 and result["errors"] == 0
    df = pq.read_table(tmp_path / "s" / "shards").to_pandas().sort_values("row")
    got = np.stack(df["ens_scores"].to_numpy())

    texts = pq.read_table(ensemble / "val" / "shards", columns=["text"]).column("text").to_pylist()
    loaded = load_model(depth=2)  # the model cut after layer 1: what the ensemble needs is there
    feats = HookedModel(loaded, head.layers_, neurons=head.neurons_).features(
        tokenize(loaded.tokenizer, texts, 128)
    )
    members = [torch.softmax(torch.from_numpy(d), 1) for d in head.member_decisions(feats)]
    np.testing.assert_allclose(got, torch.stack(members).mean(0).numpy(), atol=1e-5)

    with open(DEMO / "val.csv", newline="", encoding="utf-8") as f:
        val_texts = [row["text"] for row in csv.DictReader(f)]
    predictor = neuronhead.load(ensemble / "ens")
    np.testing.assert_allclose(predictor.predict_proba(val_texts), got, atol=1e-5)
    assert list(predictor.predict(val_texts)) == list(df["ens_label"])
