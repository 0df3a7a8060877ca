"""One rule for every ``--engine auto``: an explicit choice stands, joining a cluster means Ray, and
otherwise the caller's own test says whether Ray pays for itself here."""

from __future__ import annotations

import pytest

from neuronhead.cluster.engines import choose_engine, joins_cluster
from neuronhead.fitting.train import resolve_train_engine
from neuronhead.synthetic import PlantedStore, write_planted_store


def test_the_rule(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    asked = []

    def pays() -> bool:
        asked.append(1)
        return False

    assert choose_engine("local", joining=True, ray_pays=pays) == "local"
    assert choose_engine("ray", joining=False, ray_pays=pays) == "ray"
    assert choose_engine("auto", joining=True, ray_pays=pays) == "ray" and asked == []  # not asked
    assert choose_engine("auto", joining=False, ray_pays=pays) == "local" and asked == [1]
    assert choose_engine("auto", joining=False, ray_pays=lambda: True) == "ray"
    with pytest.raises(ValueError, match="train_engine must be one of auto, ray, local, not 'spark'"):
        choose_engine("spark", joining=False, ray_pays=pays, what="train_engine")
    assert not joins_cluster(None) and joins_cluster("10.0.0.1:6379")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert joins_cluster(None)


def test_phase_1_goes_to_ray_train_only_when_joining_or_past_the_memory_budget(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    store = tmp_path / "store"
    write_planted_store(store, PlantedStore(rows=64, layers=2, width=8, planted=2))
    assert resolve_train_engine("auto", store, None) == "local"
    assert resolve_train_engine("auto", store, "10.0.0.1:6379") == "ray"
    monkeypatch.setenv("NEURONHEAD_TRAIN_MEMORY_GB", "0")
    assert resolve_train_engine("auto", store, None) == "ray"
    assert resolve_train_engine("local", store, None) == "local"
