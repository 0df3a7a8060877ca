"""The one rule behind every ``--engine auto``: where a job's work runs, Ray or this process.

An explicit ``ray`` or ``local`` stands. ``auto`` is Ray when this process joins a cluster (an
address, ``RAY_ADDRESS`` inside ``ray job submit``, or, where the caller counts it, a Ray this process
already started), or when Ray pays for itself here by the caller's own test (more than one model
actor for the pipelines, a store too large for one process for Phase 1); otherwise this process,
which skips Ray's start-up altogether.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

ENGINES = ("auto", "ray", "local")


def joins_cluster(address: str | None, *, started_here_counts: bool = False) -> bool:
    """Whether work would join a running Ray: ``address``, ``RAY_ADDRESS``, or (``started_here_counts``)
    a Ray this process has already started."""
    if address or os.environ.get("RAY_ADDRESS"):
        return True
    ray = sys.modules.get("ray")
    return started_here_counts and ray is not None and ray.is_initialized()


def choose_engine(engine: str, *, joining: bool, ray_pays: Callable[[], bool], what: str = "engine") -> str:
    """``engine`` as given, or for ``auto``: ``ray`` when ``joining`` or ``ray_pays()``, else ``local``
    (``ray_pays`` is only asked when needed: it may import torch or read a store's size)."""
    if engine not in ENGINES:
        raise ValueError(f"{what} must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine != "auto":
        return engine
    return "ray" if joining or ray_pays() else "local"
