"""Starting Ray while torch and transformers import: only when Ray is certain, and set up as usual."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from neuronhead.cli import build_parser, starts_ray_early
from neuronhead.cluster import connect
from neuronhead.cluster.early import start_ray_early, uses_ray


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


def test_ray_starts_in_the_main_thread_while_the_modules_import(monkeypatch):
    """Ray itself is started by the CLI tests that run ``--engine ray`` (test_extract, test_runner); here
    ``ensure_ray`` is a stand-in that records where it ran and what was imported by the time it ended."""
    seen = {}

    def ensure_ray(address):
        seen["main thread"] = threading.current_thread() is threading.main_thread()
        seen["address"] = address
        time.sleep(0.3)  # Ray's start: long enough for the other thread to import

    monkeypatch.setattr(connect, "ensure_ray", ensure_ray)
    for name in ("colorsys", "no_such_module_here"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    start_ray_early("10.0.0.1:6379", ("no_such_module_here", "colorsys"))
    assert seen == {"main thread": True, "address": "10.0.0.1:6379"}  # Ray's SIGTERM handler needs it
    assert "colorsys" in sys.modules  # imported past the module that failed
    assert "no_such_module_here" not in sys.modules  # its error comes back where the command imports it
    assert not [t for t in threading.enumerate() if t.name == "neuronhead-imports"]  # joined
