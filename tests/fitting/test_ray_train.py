"""Phase 1 as a Ray Train job, each worker owning a group of layers. Its resume after a failure is tested
where the failure is real: a worker SIGKILLed (tests/reliability/test_faults.py) and a node lost
(tests/cluster)."""

from __future__ import annotations

import pytest

from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Capture, Engine, Output
from tests.demo_features import extract_demo
from tests.paths import DEMO

pytestmark = pytest.mark.slow  # Ray and Ray Train


@pytest.fixture(scope="module")
def ray_local():
    import ray

    from neuronhead.cluster.connect import ensure_ray

    ensure_ray(num_cpus=2)
    yield
    ray.shutdown()


def test_fit_head_with_phase1_on_ray_train(ray_local, tmp_path):
    from neuronhead.fitting.train import FitOptions, fit_head

    extract_demo(tmp_path, "0-2")
    options = FitOptions(
        train_engine="ray", train_workers=2, depth_curve=False, plots=False, select=None, progress=False
    )
    report = fit_head(
        tmp_path / "train",
        tmp_path / "head",
        val_features=tmp_path / "val",
        params={"probe_params": {"folds": 2, "max_epochs": 3}},
        options=options,
    )
    assert report["train_engine"] == "ray" and report["phase1"]["epochs"] == 3
    assert report["layer_groups"] == [[0, 1], [2]] and report["train_workers"] == 2
    # each layer's L2 strength was picked by the headline metric, counted on the held-out folds
    p1 = report["phase1"]
    assert p1["select"] == report["metric"] == "macro_f1"
    for c, scores in zip(p1["c"], p1["grid_score"], strict=True):
        assert scores[p1["c_grid"].index(c)] == max(scores)
    assert report["val"]["accuracy"] > 60 and (tmp_path / "head" / "ray-train").is_dir()


def test_layer_groups_on_workers_equal_the_streamed_fit(ray_local, tmp_path):
    """Each worker fits its layers exactly as the one-process streamed fit fits that layer group."""
    import numpy as np

    from neuronhead.fitting.ray_train import RayTrainOptions, fit_probes_ray, layer_groups
    from neuronhead.fitting.stream import StoreRows, StreamOptions, fit_probes_streamed
    from neuronhead.heads.phase1 import LayerProbes

    extract(
        DEMO / "train.csv",
        tmp_path / "f",
        capture=Capture(layers="0-2"),
        engine=Engine("local"),
        output=Output(shard_rows=100, progress=False),
    )
    settings = dict(folds=2, max_epochs=4, patience=1, class_weight="balanced", select="macro_f1")
    rows = np.arange(0, 480, 2)  # a subset of the rows, as selection's parts and val_fraction use
    run = RayTrainOptions(storage_path=tmp_path / "rt", num_workers=2)
    ray = fit_probes_ray(tmp_path / "f", LayerProbes(**settings), rows=rows, options=run)
    local = fit_probes_streamed(
        StoreRows(tmp_path / "f", rows), LayerProbes(**settings), StreamOptions(layers_per_group=2)
    )
    assert ray.layer_groups_ == layer_groups([0, 1, 2], 2) == [[0, 1], [2]]
    np.testing.assert_allclose(ray.weight_, local.weight_, atol=1e-6)
    np.testing.assert_array_equal(ray.c_, local.c_)
    np.testing.assert_allclose(ray.standardizer_.mean_, local.standardizer_.mean_, rtol=1e-6)
    assert ray.epochs_ == local.epochs_ and ray.resumed_from_ is None
    assert layer_groups([0, 1], 5) == [[0], [1]]  # never a worker without a layer
