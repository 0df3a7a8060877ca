"""The demo splits' features, extracted in-process: the start of several module fixtures."""

from __future__ import annotations

from pathlib import Path

from neuronhead.pipelines.extract import extract
from neuronhead.pipelines.options import Capture, Engine, Output
from tests.paths import DEMO


def extract_demo(root: Path, layers: str) -> Path:
    """``root/train`` and ``root/val``: the demo CSVs' features of ``layers`` (paths from tests/paths.py)."""
    for split in ("train", "val"):
        extract(DEMO / f"{split}.csv", root / split, capture=Capture(layers=layers),
                engine=Engine("local"), output=Output(progress=False))  # fmt: skip
    return root
