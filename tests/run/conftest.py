"""Fixtures of the run tests."""

from __future__ import annotations

import pytest

from tests.run.demo_run import interrupt_then_finish


@pytest.fixture(scope="session")
def interrupted_then_finished(tmp_path_factory) -> dict:
    """The demo job, interrupted (SIGINT) once extraction is recorded, then rerun to the end."""
    return interrupt_then_finish(tmp_path_factory.mktemp("run") / "demo")
