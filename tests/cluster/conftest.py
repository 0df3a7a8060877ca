"""The multi-node cluster (``netns_cluster.NetnsCluster``) and the helpers the multi-node tests share."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.cluster.netns_cluster import HarnessError, NetnsCluster

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head and two 3-CPU workers, each in network, PID and mount namespaces of its own."""
    import ray

    ray.shutdown()  # a Ray started by an earlier test in this process is not this cluster
    c = NetnsCluster(tmp_path_factory.mktemp("cluster"))
    try:
        c.start()
    except HarnessError as e:
        c.stop()
        pytest.fail(f"could not build the namespace cluster: {e}")
    yield c
    c.stop()


class Jobs:
    """``ray job submit`` of neuronhead commands against the cluster's head, from the client namespace.

    The working dir shipped with each job is a copy of the ``neuronhead`` package alone: a checkout can
    hold scratch folders that would push the upload past Ray's ~100 MiB cap.
    """

    def __init__(self, cluster: NetnsCluster, workdir: Path) -> None:
        self.c = cluster
        self.workdir = workdir
        shutil.copytree(
            ROOT / "neuronhead", workdir / "neuronhead", ignore=shutil.ignore_patterns("__pycache__")
        )

    def submit(self, sid: str, *args: str) -> None:
        cmd = [
            str(BIN / "ray"), "job", "submit", "--address", self.c.address, "--submission-id", sid,
            "--working-dir", str(self.workdir), "--runtime-env", str(ROOT / "cluster" / "runtime_env.yaml"),
            "--no-wait", "--", str(BIN / "python"), "-m", "neuronhead.cli", *args,
        ]  # fmt: skip
        deadline = time.time() + 300  # the head's job agent starts a little after its dashboard answers
        while True:
            done = self.c.client_run(cmd, timeout=300, cwd=ROOT)
            if done.returncode == 0:
                return
            if "No available agent" not in done.stderr + done.stdout or time.time() > deadline:
                raise AssertionError(f"ray job submit {sid}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
            time.sleep(2)

    def status(self, sid: str) -> str:
        jobs = {j["submission_id"]: j for j in self.c.list("jobs")}
        self.message = jobs.get(sid, {}).get("message") or ""
        return jobs[sid]["status"] if sid in jobs else "UNKNOWN"

    def wait(self, sid: str, timeout: float = 900) -> str:
        """Wait for the job to end; returns its logs, and fails the test unless it succeeded."""
        deadline = time.time() + timeout
        while (state := self.status(sid)) not in TERMINAL:
            assert time.time() < deadline, (
                f"job {sid} still {state} after {timeout} s:\n{self.logs(sid)[-3000:]}"
            )
            time.sleep(2)
        logs = self.logs(sid)
        assert state == "SUCCEEDED", f"job {sid} {state} ({self.message[-2000:]}):\n{logs[-4000:]}"
        return logs

    def logs(self, sid: str) -> str:
        done = self.c.client_run(
            [str(BIN / "ray"), "job", "logs", "--address", self.c.address, sid], timeout=120
        )
        return done.stdout + done.stderr

    def job_id(self, sid: str) -> str:
        return next(j["job_id"] for j in self.c.list("jobs") if j["submission_id"] == sid)

    def actors(self, sid: str, class_part: str) -> list[dict]:
        """Actors of the job whose class name contains ``class_part``, each with the node it ran on."""
        found = self.c.list("actors", f"job_id={self.job_id(sid)}")
        return [dict(a, node=self.c.node_of(a["node_id"])) for a in found if class_part in a["class_name"]]


@pytest.fixture(scope="module")
def jobs(cluster, tmp_path_factory) -> Jobs:
    return Jobs(cluster, tmp_path_factory.mktemp("workdir"))
