"""The demo job run, interrupted as soon as extraction is recorded, then rerun: what the run tests
read, and the finished report the browser test renders (one run of the job for both)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from neuronhead.store import shard_files
from tests.paths import DEMO, REPO


def _cmd(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "neuronhead.cli", "run",
        "--train", str(DEMO / "train.csv"), "--val", str(DEMO / "val.csv"), "--score", str(DEMO / "val.csv"),
        "--out", str(out), "--engine", "local", *extra,
    ]  # fmt: skip


def _stages(out: Path) -> dict:
    path = out / "run.json"
    return json.loads(path.read_text())["stages"] if path.exists() else {}


def _shard_state(folder: Path) -> list[tuple[str, int, int]]:
    return [(p.name, p.stat().st_ino, p.stat().st_mtime_ns) for p in shard_files(folder)]


def interrupt_then_finish(out: Path) -> dict:
    """Start a run, interrupt it (SIGINT) as soon as extraction is recorded, then rerun it."""
    # A shell that starts pytest in the background (`cmd &`) has it ignore SIGINT, and children inherit
    # that: give the run the default disposition back, so Python turns Ctrl-C into KeyboardInterrupt.
    proc = subprocess.Popen(
        _cmd(out), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if _stages(out).get("extract val", {}).get("status") == "done":
            break
        time.sleep(0.05)
    # Ctrl-C until it stops: a SIGINT that lands while Python runs a finaliser (__del__) is reported
    # as "Exception ignored" and dropped, as for any Python program, so one press may not be enough.
    while proc.poll() is None and time.time() < deadline:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
    first_log, _ = proc.communicate(timeout=120)
    after_interrupt = _stages(out)
    shards = {name: _shard_state(out / "features" / name) for name in ("train", "val")}
    manifests = {name: (out / "features" / name / "manifest.json").read_text() for name in ("train", "val")}
    done = subprocess.run(_cmd(out), cwd=REPO, capture_output=True, text=True, timeout=600)
    return {
        "out": out,
        "first_rc": proc.returncode,
        "first_log": first_log,
        "after_interrupt": after_interrupt,
        "shards": shards,
        "manifests": manifests,
        "second": done,
    }
