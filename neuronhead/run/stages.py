"""What a run has done so far, in ``OUT/run.json``: each stage's key, outputs, time and throughput.

A stage whose key (a hash of what it depends on) is recorded as done is reused by a rerun; any
other stage runs. The file is rewritten atomically after every stage, so an interrupted run leaves
a record of exactly the stages that finished.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from neuronhead.store import write_json

LOG = "run.json"


def stage_key(*parts: Any) -> str:
    """A short stable hash of what a stage depends on."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class StageLog:
    """Reads and appends to ``OUT/run.json``."""

    def __init__(self, out: Path, total: int, progress: bool = True) -> None:
        self.path = out / LOG
        self.total = total
        self.progress = progress
        self.count = 0
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.data.setdefault("stages", {})

    def done(self, name: str, key: str) -> dict[str, Any] | None:
        """The record of a finished stage with this key, else None."""
        rec = self.data["stages"].get(name)
        return rec if rec and rec.get("key") == key and rec.get("status") == "done" else None

    def set(self, **fields: Any) -> None:
        self.data.update(fields)
        write_json(self.data, self.path)

    @contextmanager
    def stage(self, name: str, key: str, what: str) -> Iterator[dict[str, Any]]:
        """Run a stage unless done; yields a dict the body fills (``reused`` tells it to skip)."""
        self.count += 1
        prev = self.done(name, key)
        tag = f"[{self.count}/{self.total}] {name}"
        if prev is not None:
            if self.progress:
                print(f"neuronhead run {tag}: done before ({prev['seconds']:.1f} s), reused", flush=True)
            rec = {**prev, "reused": True}
            yield rec
            self.data["stages"][name] = {**prev, "reused": True}
            write_json(self.data, self.path)
            return
        if self.progress:
            print(f"neuronhead run {tag}: {what}", flush=True)
        rec: dict[str, Any] = {"key": key, "reused": False}
        t0 = time.perf_counter()
        yield rec
        rec.update(status="done", seconds=round(time.perf_counter() - t0, 2))
        self.data["stages"][name] = rec
        write_json(self.data, self.path)
