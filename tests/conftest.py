"""Shared fixtures: tiny random models of each architecture (saved as real model folders), Ray cleanup
between tests, and the reliability log."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

# Tests never need the network: make any stray HTTP request fail at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
    os.environ[var] = "http://127.0.0.1:9"
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "localhost,127.0.0.1"

from neuronhead.models.loading import bundled_model_path  # noqa: E402
from tests.tiny_models import ARCHS, build_tiny  # noqa: E402

_RELIABILITY_LOG: list[dict] = []
RAY_LEFTOVER_ENV = ("RAY_CLIENT_MODE", "PYTHONBREAKPOINT", "RAY_ADDRESS")  # what ray.init leaves behind


def _ray_running() -> bool:
    """Without importing Ray (seconds), which a test that never touched it has no need of."""
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def _ray_ends_with_its_owner():
    """Shut down a Ray started during this fixture's scope, so the next test cannot use it unawares.

    A Ray already running when the scope opens belongs to a wider fixture that shares it on purpose
    (one Ray for a module's tests): it is left to that fixture.
    """
    if _ray_running():
        yield
        return
    env = {k: os.environ.get(k) for k in RAY_LEFTOVER_ENV}
    yield
    if _ray_running():
        import ray

        ray.shutdown()
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(autouse=True)
def ray_started_in_a_test_ends_with_it():
    """After each test: a Ray that the test (or a function fixture of it) started is shut down."""
    yield from _ray_ends_with_its_owner()


@pytest.fixture(autouse=True, scope="module")
def ray_started_in_a_module_ends_with_it():
    """After each module: a Ray that a module fixture started and left running is shut down."""
    yield from _ray_ends_with_its_owner()


@pytest.fixture(scope="session")
def record():
    """``record(kind, case, outcome, rows_in=None, rows_out=None)``: one row of docs/reliability.md.

    Set ``NEURONHEAD_RELIABILITY_OUT=DIR`` to keep the log as ``DIR/reliability.json``;
    ``scripts/reliability_table.py`` turns it into the table (tests/reliability and tests/cluster add rows).
    """

    def add(kind: str, case: str, outcome: str, rows_in: int | None = None, rows_out: int | None = None):
        _RELIABILITY_LOG.append(
            {"kind": kind, "case": case, "outcome": outcome, "rows_in": rows_in, "rows_out": rows_out}
        )

    yield add
    out = os.environ.get("NEURONHEAD_RELIABILITY_OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        text = json.dumps(_RELIABILITY_LOG, indent=1, ensure_ascii=False)
        (Path(out) / "reliability.json").write_text(text)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random models of each kind, with their real tokenizer kinds (``tests/tiny_models.py``)."""
    root = tmp_path_factory.mktemp("tiny-models")
    return {arch: build_tiny(arch, root / arch) for arch in ARCHS}


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    return bundled_model_path()


@pytest.fixture(scope="session")
def demo_heads(tmp_path_factory) -> Path:
    """Heads on the demo set's layer-0..1 MiniLM features, fitted once for the whole session (five
    modules use them): ``k1`` stops after layer 0, ``k2`` after layer 1. Read them, don't change
    them; a test that needs a head under another name copies its folder."""
    from tests.demo_features import fit_demo_heads

    return fit_demo_heads(tmp_path_factory.mktemp("demo-heads"), "0-1", {"k1": 0, "k2": 1})
