"""A real Ray head (`ray start --head` on 127.0.0.1, in its own PID namespace) runs `neuronhead score`
submitted with `ray job submit --working-dir`; every input row comes out exactly once."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from neuronhead.fitting.train import FitOptions, fit_head
from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Capture, Engine, Output
from tests.cluster.netns_cluster import children
from tests.paths import DEMO

pytestmark = pytest.mark.slow  # a Ray head of its own
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _members(namespaces: set[str]) -> list[int]:
    """Processes still alive in the given PID namespaces."""
    alive = []
    for ns in Path("/proc").glob("[0-9]*/ns/pid"):
        try:
            if os.readlink(ns) in namespaces:
                alive.append(int(ns.parent.parent.name))
        except OSError:
            continue
    return alive


@pytest.fixture
def ray_head(tmp_path):
    """``ray start --head --block`` inside ``unshare --pid``: ending it ends every Ray process it made."""
    if not shutil.which("unshare"):
        pytest.fail("unshare (util-linux) is needed to give the test cluster its own PID namespace")
    port, dash = _free_port(), _free_port()
    temp = Path("/tmp") / f"nh-head-{os.getpid()}"  # Ray's socket paths must stay short
    cmd = [
        "unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
        str(BIN / "ray"), "start", "--head", "--block",
        "--node-ip-address=127.0.0.1", f"--port={port}",
        "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}", "--include-dashboard=true",
        "--num-cpus=2", f"--temp-dir={temp}",
    ]  # fmt: skip
    # Token authentication on, with a token of this test's own (head, job client and job share it).
    import ray

    ray.shutdown()  # a Ray started by an earlier test in this process is not this cluster
    # ray.init leaves RAY_CLIENT_MODE and PYTHONBREAKPOINT in os.environ; the head must not inherit them.
    leftovers = {"RAY_CLIENT_MODE", "PYTHONBREAKPOINT", "RAY_ADDRESS"}
    env = {
        **{k: v for k, v in os.environ.items() if k not in leftovers},
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_worker_niceness": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
    }
    with open(tmp_path / "head.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{dash}"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/version", timeout=2)
            break
        except urllib.error.HTTPError:  # it answers (e.g. 401: Ray's token authentication is on)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"the Ray head did not come up: {(tmp_path / 'head.log').read_text()[-2000:]}")
            time.sleep(1)
    yield url, env
    # Kill the namespace's init (the `ray start` under unshare): the kernel then kills every process
    # of that PID namespace, and only those (`ray stop` would hit every Ray process on the machine).
    inits = children(proc.pid)
    namespace = {os.readlink(f"/proc/{pid}/ns/pid") for pid in inits}
    for pid in inits:
        os.kill(pid, signal.SIGKILL)
    proc.kill()
    proc.wait(timeout=60)
    deadline = time.time() + 30
    while _members(namespace) and time.time() < deadline:
        time.sleep(0.5)
    assert not _members(namespace), "processes of the test cluster outlived it"
    shutil.rmtree(temp, ignore_errors=True)


def test_score_job_submitted_to_a_real_head(ray_head, tmp_path):
    extract(
        DEMO / "train.csv",
        tmp_path / "train",
        capture=Capture(layers="0-2"),
        engine=Engine("local"),
        output=Output(progress=False),
    )
    fit_head(
        tmp_path / "train",
        tmp_path / "head",
        val_fraction=0.2,
        params={"probe_params": {"folds": 2, "max_epochs": 3}},
        options=FitOptions(depth_curve=False, plots=False, select=None, progress=False),
    )
    out = tmp_path / "scores"
    ray_head, env = ray_head
    submit = [
        str(BIN / "ray"), "job", "submit", "--address", ray_head, "--submission-id", "nh-score-test",
        "--working-dir", str(ROOT), "--runtime-env", str(ROOT / "cluster" / "runtime_env.yaml"),
        "--", str(BIN / "python"), "-m", "neuronhead.cli", "score",
        "--head", f"sentiment={tmp_path / 'head'}", "--data", str(DEMO / "val.csv"),
        "--out", str(out),
    ]  # fmt: skip
    deadline = time.time() + 300  # on 2 busy cores the agent has taken over 2 minutes
    while True:  # the head's job agent starts a little after its dashboard answers
        done = subprocess.run(submit, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
        if "No available agent" not in done.stderr + done.stdout or time.time() > deadline:
            break
        time.sleep(2)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    status = subprocess.run(
        [str(BIN / "ray"), "job", "status", "--address", ray_head, "nh-score-test"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "succeeded" in (status.stdout + status.stderr).lower()
    assert "scored 120 rows, 0 errors, 120 in" in done.stdout
    table = pq.read_table(out / "shards")
    ids = table.column("id").to_pylist()
    import csv

    with open(DEMO / "val.csv", newline="") as fh:
        expected = [row["id"] for row in csv.DictReader(fh)]
    assert sorted(ids) == sorted(expected) and len(set(ids)) == len(ids) == 120
    assert table.column("error").null_count == 120
