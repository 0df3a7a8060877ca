"""The demo splits' features, extracted in-process: the start of several module fixtures."""

from __future__ import annotations

from pathlib import Path

from neuronhead.fitting.train import FitOptions, fit_head
from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Capture, Engine, Output
from tests.paths import DEMO


def extract_demo(root: Path, layers: str, model: str | None = None) -> Path:
    """``root/train`` and ``root/val``: the demo CSVs' features of ``layers`` (paths from tests/paths.py)."""
    for split in ("train", "val"):
        extract(DEMO / f"{split}.csv", root / split, model=model, capture=Capture(layers=layers),
                engine=Engine("local"), output=Output(progress=False))  # fmt: skip
    return root


def fit_demo_heads(root: Path, layers: str, depths: dict[str, int], model: str | None = None) -> Path:
    """Small heads on the demo features of ``layers``: ``root/NAME`` stops after layer ``depths[NAME]``."""
    extract_demo(root, layers, model)
    for name, k in depths.items():
        fit_head(
            root / "train",
            root / name,
            val_features=root / "val",
            params={"max_layer": k, "probe_params": {"folds": 2, "max_epochs": 4}},
            options=FitOptions(depth_curve=False, plots=False, select=None, progress=False),
        )
    return root
