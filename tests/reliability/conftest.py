"""Shared pieces of the reliability suite: a small real head, and a log of what each case did.

Set ``NEURONHEAD_RELIABILITY_OUT=DIR`` to keep that log as ``DIR/reliability.json``;
``scripts/reliability_table.py`` turns it into the table in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from neuronhead.heads.train import fit_head
from neuronhead.pipelines import extract

REPO = Path(__file__).resolve().parents[2]
_LOG: list[dict] = []


@pytest.fixture(scope="session")
def record():
    """``record(kind, case, outcome, rows_in=None, rows_out=None)``: one row of the reliability table."""

    def add(kind: str, case: str, outcome: str, rows_in: int | None = None, rows_out: int | None = None):
        _LOG.append(
            {"kind": kind, "case": case, "outcome": outcome, "rows_in": rows_in, "rows_out": rows_out}
        )

    yield add
    out = os.environ.get("NEURONHEAD_RELIABILITY_OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "reliability.json").write_text(json.dumps(_LOG, indent=1, ensure_ascii=False))


@pytest.fixture(scope="session")
def small_head(tmp_path_factory) -> Path:
    """A head on the bundled MiniLM's layers 0..1, fitted on the demo set (seconds)."""
    root = tmp_path_factory.mktemp("reliability")
    for split in ("train", "val"):
        extract(
            REPO / f"examples/demo/{split}.csv", root / split, layers="0-1", engine="local", progress=False
        )
    fit_head(
        root / "train",
        root / "head",
        val_features=root / "val",
        params={"max_layer": 1, "probe_params": {"folds": 2, "max_epochs": 4}},
        depth_curve=False,
        plots=False,
        progress=False,
    )
    return root / "head"
