"""Shared pieces of the reliability suite: a small real head (the ``record`` log is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from neuronhead.fitting.train import FitOptions, fit_head
from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Capture, Engine, Output
from tests.paths import DEMO


@pytest.fixture(scope="session")
def small_head(tmp_path_factory) -> Path:
    """A head on the bundled MiniLM's layers 0..1, fitted on the demo set (seconds)."""
    root = tmp_path_factory.mktemp("reliability")
    for split in ("train", "val"):
        extract(
            DEMO / f"{split}.csv",
            root / split,
            capture=Capture(layers="0-1"),
            engine=Engine("local"),
            output=Output(progress=False),
        )
    fit_head(
        root / "train",
        root / "head",
        val_features=root / "val",
        params={"max_layer": 1, "probe_params": {"folds": 2, "max_epochs": 4}},
        options=FitOptions(depth_curve=False, plots=False, select=None, progress=False),
    )
    return root / "head"
