"""Model selection never reads the reporting split, and every candidate kind ships and scores."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neuronhead.fitting.select import SelectOptions, candidates, selection_parts
from neuronhead.fitting.train import FitOptions, fit_head
from neuronhead.heads.artifact import load_head, save_head
from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Engine, Output
from neuronhead.store import load_features

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
# Layers 0..1 only and short Phase 1: 9 candidates instead of 25, so the suite stays quick.
FAST = {"max_layer": 1, "probe_params": {"folds": 3, "max_epochs": 6}}


@pytest.fixture(scope="module")
def demo_features(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-select")
    for split in ("train", "val"):
        extract(DEMO / f"{split}.csv", root / split, engine=Engine("local"), output=Output(progress=False))
    _poisoned_copy(root / "val", root / "poisoned-val")
    return root


def test_cv_parts_cover_every_row_once():
    rows = np.arange(1000)
    parts = selection_parts(rows, SelectOptions(select_on="cv", cv_folds=4))
    assert len(parts) == 4 and (np.sum(parts, axis=0) == 1).all()
    assert all(150 < p.sum() < 350 for p in parts)
    (dev,) = selection_parts(rows, SelectOptions(select_on="dev", dev_fraction=0.2))
    assert 150 < dev.sum() < 250


def _poisoned_copy(src: Path, dst: Path) -> Path:
    """A copy of a feature folder with noise features and shuffled labels in every shard."""
    shutil.copytree(src, dst)
    rng = np.random.default_rng(9)
    for path in sorted((dst / "shards").glob("*.parquet")):
        table = pq.read_table(path)
        for i, name in enumerate(table.column_names):
            col = table[name]
            if name.startswith("layer_"):
                width = col.type.list_size
                noise = rng.normal(size=(len(table), width)).astype(np.float16)
                flat = pa.array(noise.reshape(-1), pa.float16())
                table = table.set_column(i, name, pa.FixedSizeListArray.from_arrays(flat, width))
            elif name == "label":
                table = table.set_column(i, name, pa.array(rng.permutation(col.to_numpy()), col.type))
        pq.write_table(table, path)
    return dst


def _fit(root, out, select, val="val"):
    return fit_head(
        root / "train",
        out,
        val_features=root / val,
        params=FAST,
        options=FitOptions(select=select, depth_curve=False, plots=False, progress=False),
    )


def test_poisoned_val_leaves_the_choice_unchanged(demo_features, tmp_path):
    opts = SelectOptions("cheaper", "dev", variants=("logits",))  # 5 candidates: the suite stays quick
    clean = _fit(demo_features, tmp_path / "clean", opts)
    dirty = _fit(demo_features, tmp_path / "dirty", opts, val="poisoned-val")
    assert dirty["val"] != clean["val"]  # the poison reached the report
    assert dirty["selection"]["chosen"] == clean["selection"]["chosen"]
    assert dirty["selection"]["candidates"] == clean["selection"]["candidates"]
    assert clean["val_is_held_out"] and dirty["val_is_held_out"]


def test_poisoned_val_leaves_the_robust_default_unchanged(demo_features, tmp_path):
    """``prefer="robust"`` (the default) searches nothing, so val cannot move what ships: the same bytes."""
    clean = _fit(demo_features, tmp_path / "clean", SelectOptions(select_on="val"))
    dirty = _fit(demo_features, tmp_path / "dirty", SelectOptions(select_on="val"), val="poisoned-val")
    assert dirty["val"] != clean["val"]
    assert dirty["selection"]["chosen"] == clean["selection"]["chosen"] == "ensemble@0..1"
    for f in ("head.safetensors",):
        assert (tmp_path / "clean" / f).read_bytes() == (tmp_path / "dirty" / f).read_bytes()


def test_selecting_on_val_does_read_val(demo_features, tmp_path):
    """The control: the same poison changes a selection made on val (so the test above can fail)."""
    opts = SelectOptions("cheaper", "val", variants=("logits",))
    clean = _fit(demo_features, tmp_path / "clean", opts)
    dirty = _fit(demo_features, tmp_path / "dirty", opts, val="poisoned-val")
    assert dirty["selection"]["candidates"] != clean["selection"]["candidates"]
    assert not clean["val_is_held_out"]


def test_every_candidate_kind_round_trips(demo_features, tmp_path):
    """Probe, linear and dense heads save, load and predict alike; a probe head is its layer's probe."""
    tr = load_features(demo_features / "train", dtype=np.float16)
    va = load_features(demo_features / "val", dtype=np.float16)
    layers = list(range(6))  # the features' layers; the candidates stop at 0..1
    y = tr["label"].astype(np.int64)
    names = ["negative", "neutral", "positive"]
    cands = {c.name: c for c in candidates(FAST, layers, ("logits+values", "logits", "values"))}
    probes = None
    for name in ("probe@L1", "head[values]@0..1", "all-layer probe", "head[logits]@0..0"):
        from neuronhead.heads.head import NeuronHead

        head = NeuronHead("classification", **cands[name].params)
        head.fit(tr["X"], y, tr["row"], layers=layers, label_names=names, probes=probes)
        probes = head.probes_
        save_head(head, tmp_path / name, {})
        loaded, _ = load_head(tmp_path / name)
        assert loaded.deepest_layer_ == cands[name].params["max_layer"]
        np.testing.assert_allclose(
            loaded.decision(va["X"], layers), head.decision(va["X"], layers), atol=1e-5
        )
        if name == "probe@L1":
            want = probes.decision(va["X"])[:, 1]
            np.testing.assert_allclose(head.decision(va["X"], layers), want, atol=1e-4)


def test_ties_go_to_the_earliest_stop_then_the_fewest_neurons_read():
    """Identical predictions tie; the cost is what each fitted candidate reads, not its parameters
    (a default head's 5% of four layers is cheaper than layer 3's whole probe at the same depth)."""
    from neuronhead.fitting.select import Candidate, Problem, _choose

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    good = np.where(rng.random(400) < 0.8, y, 1 - y)
    cands = [
        Candidate(n, k, {})
        for n, k in (
            ("probe@L3", "layer_probe"),
            ("head@0..3", "head"),
            ("head@0..5", "head"),
            ("bad@0..0", "head"),
        )
    ]
    preds = {"probe@L3": good, "head@0..3": good, "head@0..5": good, "bad@0..0": 1 - good}
    costs = {
        "probe@L3": (3, 1 / 6),
        "head@0..3": (3, 0.05 * 4 / 6),
        "head@0..5": (5, 0.05),
        "bad@0..0": (0, 0.05 / 6),
    }
    problem = Problem("classification", "macro_f1", range(6), ["a", "b"], {})
    got = _choose(cands, preds, costs, y, problem, SelectOptions(select_on="dev"))
    assert set(got["tied_with_best"]) == {"probe@L3", "head@0..3", "head@0..5"}
    assert got["chosen"] == "head@0..3"
    shares = {c["name"]: c["neuron_share"] for c in got["candidates"]}
    assert shares["head@0..3"] == pytest.approx(0.2 / 6, abs=1e-6)
