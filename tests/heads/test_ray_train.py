"""Phase 1 as a Ray Train job: streams the shards, survives a worker failure by resuming its checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from neuronhead.heads.phase1 import LayerProbes
from neuronhead.pipelines import extract
from neuronhead.store import load_features


@pytest.fixture(scope="module")
def ray_local():
    import ray

    from neuronhead.cluster import ensure_ray

    ensure_ray(num_cpus=2)
    yield
    ray.shutdown()


def test_ray_train_phase1_resumes_after_a_failure(ray_local, tmp_path):
    from neuronhead.heads.ray_train import fit_probes_ray

    extract(
        "examples/demo/train.csv",
        tmp_path / "f",
        layers="2-3",
        shard_rows=100,
        engine="local",
        progress=False,
    )
    probes = LayerProbes(folds=2, max_epochs=4, batch_size=64, class_weight="balanced")
    fit_probes_ray(tmp_path / "f", probes, storage_path=tmp_path / "rt", _fail_once_after_epoch=2)
    # 4 epochs in all: the restarted workers resumed from the epoch-2 checkpoint instead of restarting
    assert probes.epochs_ == 4 and len(probes.history_) == 4
    assert probes.weight_.shape == (2, 3, 2 * 1536) and probes.importance_.shape == (2, 1536)

    # Same data in-process: the same kind of probe (held-out loss of the same order, accurate on train).
    data = load_features(tmp_path / "f")
    local = LayerProbes(folds=2, max_epochs=4, batch_size=64, class_weight="balanced").fit(
        data["X"], data["label"], data["row"], n_outputs=3
    )
    assert np.all(probes.heldout_loss_ < 1.05) and np.all(local.heldout_loss_ < 1.05)
    acc = (probes.predict_layer(data["X"]) == data["label"][:, None]).mean(0)
    assert acc.min() > 0.8


def test_fit_head_with_phase1_on_ray_train(ray_local, tmp_path):
    from neuronhead.heads.train import fit_head

    for split in ("train", "val"):
        extract(f"examples/demo/{split}.csv", tmp_path / split, layers="0-2", engine="local", progress=False)
    report = fit_head(
        tmp_path / "train",
        tmp_path / "head",
        val_features=tmp_path / "val",
        train_engine="ray",
        depth_curve=False,
        plots=False,
        progress=False,
        params={"probe_params": {"folds": 2, "max_epochs": 3}},
    )
    assert report["train_engine"] == "ray" and report["phase1"]["epochs"] == 3
    # each layer's L2 strength was picked by the headline metric, counted on the held-out folds
    p1 = report["phase1"]
    assert p1["select"] == report["metric"] == "macro_f1"
    for c, scores in zip(p1["c"], p1["grid_score"], strict=True):
        assert scores[p1["c_grid"].index(c)] == max(scores)
    assert report["val"]["accuracy"] > 60 and (tmp_path / "head" / "ray-train").is_dir()
