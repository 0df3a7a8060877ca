"""Starting Ray while torch and transformers import: only when Ray is certain, and set up as usual."""

from __future__ import annotations

import subprocess
import sys

import pytest

from neuronhead.cli import build_parser, starts_ray_early
from neuronhead.cluster.early import uses_ray


@pytest.mark.parametrize(
    ("engine", "address", "ray_address", "expected"),
    [
        ("ray", None, None, True),
        ("auto", "10.0.0.1:6379", None, True),
        ("auto", None, "10.0.0.1:6379", True),
        ("auto", None, None, False),  # may still be Ray on a GPU: decided later, with torch
        ("local", "10.0.0.1:6379", None, False),  # --engine local wins over an address
        (None, None, "10.0.0.1:6379", False),  # a command without --engine
    ],
)
def test_ray_is_started_early_only_when_it_surely_runs(monkeypatch, engine, address, ray_address, expected):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if ray_address:
        monkeypatch.setenv("RAY_ADDRESS", ray_address)
    assert uses_ray(engine, address) is expected


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["score", "--head", "h", "--data", "d.csv", "--out", "o", "--engine", "ray"], True),
        (["extract", "--data", "d.csv", "--out", "o", "--engine", "ray"], True),
        (["extract", "--data", "d.csv", "--out", "o"], False),
        # fit may read cached features and never need Ray: it starts Ray only if it extracts
        (["fit", "--train", "d.csv", "--out", "o", "--engine", "ray"], False),
    ],
)
def test_only_extract_and_score_start_ray_early(monkeypatch, argv, expected):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert starts_ray_early(build_parser().parse_args(argv)) is expected


EARLY = """
import signal, sys
from neuronhead.cluster.early import start_ray_early
start_ray_early(None, ("json", "no_such_module_here", "torch"))
import ray
assert ray.is_initialized()
assert "torch" in sys.modules  # imported by the other thread, past the one that failed
assert "no_such_module_here" not in sys.modules
assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)  # Ray's handler: main thread
print("ok")
"""


def test_early_start_leaves_ray_up_and_the_modules_imported():
    proc = subprocess.run([sys.executable, "-c", EARLY], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"
    assert "SIGTERM handler is not set" not in proc.stderr
