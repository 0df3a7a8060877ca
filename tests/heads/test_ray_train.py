"""Phase 1 as a Ray Train job streaming the shards. Its resume after a failure is tested where the failure
is real: a worker SIGKILLed (tests/reliability/test_faults.py) and a node lost (tests/cluster)."""

from __future__ import annotations

import pytest

from neuronhead.pipelines import extract


@pytest.fixture(scope="module")
def ray_local():
    import ray

    from neuronhead.cluster import ensure_ray

    ensure_ray(num_cpus=2)
    yield
    ray.shutdown()


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
        select=None,
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
