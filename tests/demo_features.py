"""The demo splits' features, extracted in-process: the start of several module fixtures."""

from __future__ import annotations

from pathlib import Path

from neuronhead.pipelines.extract import extract
from neuronhead.pipelines.options import Capture, Engine

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo"


def extract_demo(root: Path, layers: str) -> Path:
    """``root/train`` and ``root/val``: the demo CSVs' features of ``layers``, found from this file."""
    for split in ("train", "val"):
        extract(DEMO / f"{split}.csv", root / split, progress=False, capture=Capture(layers=layers),
                engine=Engine("local"))  # fmt: skip
    return root
