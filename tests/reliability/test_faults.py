"""Faults, for real: killed processes, a full disk, a read-only output folder.

Processes are killed with SIGKILL (no chance to clean up); the disk and the read-only folder are a
small tmpfs and a read-only bind mount in a private mount namespace (``unshare --mount``), so nothing
outside the test is touched.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow.parquet as pq
import pytest

from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Capture, Engine, Output
from neuronhead.pipelines.scoring import score
from neuronhead.store import shard_files
from tests.paths import DEMO, REPO

PY = sys.executable


def _texts(n: int, folder: Path) -> Path:
    """``n`` rows of demo tweets with unique ids (the demo set repeated)."""
    with open(DEMO / "train.csv", newline="") as f:
        base = [r["text"] for r in csv.DictReader(f)]
    path = folder / f"texts-{n}.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        for i in range(n):
            w.writerow([f"t{i:06d}", base[i % len(base)]])
    return path


def _python(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [PY, "-c", textwrap.dedent(code), *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the job ended before the fault could be injected: {err[-2000:]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("timed out waiting for the moment to inject the fault")


def _descendants(pid: int, marker: str) -> list[psutil.Process]:
    out = []
    for p in psutil.Process(pid).children(recursive=True):
        try:
            if marker in " ".join(p.cmdline()):
                out.append(p)
        except psutil.Error:
            pass
    return out


def _last_json(stdout: str) -> dict:
    """The job's own JSON line (Ray may print its log lines to stdout after it)."""
    return json.loads(next(x for x in reversed(stdout.splitlines()) if x.startswith("{")))


def _scores(out: Path):
    return pq.read_table(shard_files(out)).sort_by("row").to_pandas()


SCORE_JOB = """
import json, sys
from neuronhead.pipelines.options import Engine, Output
from neuronhead.pipelines.scoring import score
r = score([sys.argv[1]], sys.argv[2], sys.argv[3], engine=Engine(sys.argv[4], num_actors=1),
          output=Output(shard_rows=int(sys.argv[5]), progress=False))
print(json.dumps(r))
"""


@pytest.mark.slow
def test_a_scoring_actor_killed_mid_job(small_head, tmp_path, record):
    data = _texts(3000, tmp_path)
    out = tmp_path / "ray"
    proc = _python(SCORE_JOB, str(small_head), str(data), str(out), "ray", "100")
    _wait_for(lambda: len(shard_files(out)) >= 2 and _descendants(proc.pid, "ModelActor"), proc)
    victims = _descendants(proc.pid, "ModelActor")
    for v in victims:
        v.send_signal(signal.SIGKILL)
    done_before = len(shard_files(out))
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    result = _last_json(stdout)
    assert done_before < 30  # the kill landed mid-job
    assert "a model worker was lost" in stderr and "unfinished shards on a new pool" in stderr
    df = _scores(out)
    assert result["rows_in"] == result["rows_out"] == len(df) == 3000 and result["errors"] == 0
    assert df["id"].is_unique and list(df["row"]) == list(range(3000))  # every row exactly once
    ref = score(
        [str(small_head)],
        data,
        tmp_path / "ref",
        engine=Engine("local"),
        output=Output(shard_rows=100, progress=False),
    )
    assert ref["rows_out"] == 3000
    np.testing.assert_allclose(
        np.stack(df["head_scores"]), np.stack(_scores(tmp_path / "ref")["head_scores"]), atol=1e-5
    )
    record(
        "fault",
        "scoring actor killed (SIGKILL) mid-job, Ray engine",
        f"the driver reran the unfinished shards on a new actor pool; job succeeded after {done_before}/30 "
        "shards were written before the kill; scores equal an uninterrupted run (1e-5)",
        3000,
        len(df),
    )


def _kill_after_shards(proc: subprocess.Popen, out: Path, n: int) -> int:
    _wait_for(lambda: len(shard_files(out)) >= n, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return len(shard_files(out))


@pytest.mark.slow
def test_driver_killed_mid_scoring_resumes_to_the_same_result(small_head, tmp_path, record):
    data = _texts(1200, tmp_path)
    out = tmp_path / "killed"
    proc = _python(SCORE_JOB, str(small_head), str(data), str(out), "local", "50")
    written = _kill_after_shards(proc, out, 3)
    assert written < 24
    result = score(
        [str(small_head)], data, out, engine=Engine("local"), output=Output(shard_rows=50, progress=False)
    )
    score(
        [str(small_head)],
        data,
        tmp_path / "whole",
        engine=Engine("local"),
        output=Output(shard_rows=50, progress=False),
    )
    a, b = _scores(out), _scores(tmp_path / "whole")
    assert result["rows_in"] == result["rows_out"] == len(a) == 1200
    assert a.drop(columns=["head_scores"]).equals(b.drop(columns=["head_scores"]))
    assert np.array_equal(np.stack(a["head_scores"]), np.stack(b["head_scores"]))  # bit for bit
    record(
        "fault",
        "driver killed (SIGKILL) mid-scoring, then rerun",
        f"rerun skipped the {written} finished shards and scored the rest; output equals an uninterrupted "
        "run bit for bit",
        1200,
        len(a),
    )


EXTRACT_JOB = """
import sys
from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Capture, Engine, Output
extract(sys.argv[1], sys.argv[2], capture=Capture(layers="0-1"), engine=Engine("local"),
        output=Output(shard_rows=40, progress=False))
"""


@pytest.mark.slow
def test_driver_killed_mid_extraction_resumes_to_the_same_features(tmp_path, record):
    data = _texts(600, tmp_path)
    out = tmp_path / "killed"
    proc = _python(EXTRACT_JOB, str(data), str(out))
    written = _kill_after_shards(proc, out, 3)
    assert written < 15
    m = extract(
        data,
        out,
        capture=Capture(layers="0-1"),
        engine=Engine("local"),
        output=Output(shard_rows=40, progress=False),
    )
    extract(
        data,
        tmp_path / "whole",
        capture=Capture(layers="0-1"),
        engine=Engine("local"),
        output=Output(shard_rows=40, progress=False),
    )
    a = pq.read_table(shard_files(out)).sort_by("row")
    b = pq.read_table(shard_files(tmp_path / "whole")).sort_by("row")
    assert m.rows_in == m.rows == a.num_rows == 600
    assert a.equals(b)  # every column, features included, bit for bit
    record(
        "fault",
        "driver killed (SIGKILL) mid-extraction, then rerun",
        f"rerun kept the {written} finished shards and extracted the rest; features equal an uninterrupted "
        "run bit for bit",
        600,
        a.num_rows,
    )


TRAIN_JOB = """
import json, sys
from neuronhead.cluster.connect import ensure_ray
from neuronhead.heads.phase1 import LayerProbes
from neuronhead.fitting.ray_train import RayTrainOptions, fit_probes_ray
from neuronhead.store import load_features
ensure_ray(num_cpus=2)
p = LayerProbes(folds=2, max_epochs=6, patience=6, batch_size=64, class_weight="balanced")
fit_probes_ray(sys.argv[1], p, options=RayTrainOptions(storage_path=sys.argv[2], max_failures=3))
d = load_features(sys.argv[1])
acc = (p.predict_layer(d["X"]) == d["label"][:, None]).mean(0)
print(json.dumps({"epochs": p.epochs_, "history": len(p.history_), "resumed_from": p.resumed_from_,
                  "accuracy": acc.tolist()}))
"""


@pytest.mark.slow
def test_a_ray_train_worker_killed_during_phase1_resumes_from_its_checkpoint(tmp_path, record):
    extract(
        DEMO / "train.csv",
        tmp_path / "f",
        capture=Capture(layers="2-3"),
        engine=Engine("local"),
        output=Output(shard_rows=100, progress=False),
    )
    storage = tmp_path / "rt"
    proc = _python(TRAIN_JOB, str(tmp_path / "f"), str(storage))

    def checkpointed() -> bool:  # a checkpoint Ray Train has registered (not one still being reported)
        try:
            snap = json.loads((storage / "phase1" / "checkpoint_manager_snapshot.json").read_text())
            epoch = snap["latest_checkpoint_result"]["metrics"]["epoch"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return 1 <= epoch < 5 and bool(_descendants(proc.pid, "RayTrainWorker"))

    _wait_for(checkpointed, proc)
    for v in _descendants(proc.pid, "RayTrainWorker"):
        v.send_signal(signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    r = _last_json(stdout)
    assert r["resumed_from"] is not None and r["resumed_from"] >= 1  # picked up from a checkpoint
    assert r["epochs"] == r["history"] == 6  # and did not start over
    assert min(r["accuracy"]) > 0.8
    record(
        "fault",
        "Ray Train worker killed (SIGKILL) during Phase 1",
        f"Ray Train restarted the worker group, which resumed from the epoch-{r['resumed_from']} checkpoint "
        f"and finished all 6 epochs (train accuracy {min(r['accuracy']):.2f}+)",
    )


def _in_mount_namespace(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True, text=True, timeout=600, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


CHECK = """
import json, sys
from pathlib import Path
import pyarrow.parquet as pq
out = Path(sys.argv[1])
files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
visible = [f for f in files if f.startswith("shards/shard-")]
readable = []
for f in visible:
    readable.append(pq.read_metadata(out / f).num_rows)
print(json.dumps({"files": files, "visible": visible, "rows": readable}))
"""


@pytest.mark.slow
def test_a_full_disk_gives_a_clear_error_and_no_half_written_shard(tmp_path, record):
    data = _texts(360, tmp_path)
    (tmp_path / "check.py").write_text(CHECK)
    disk = tmp_path / "disk"
    disk.mkdir()
    r = _in_mount_namespace(
        f"mount -t tmpfs -o size=1m tmpfs {disk} && "
        f"{PY} -m neuronhead.cli extract --data {data} --out {disk}/out --layers 0-1 --shard-rows 40 "
        f"--engine local 2> {tmp_path}/err; echo rc=$?; {PY} {tmp_path}/check.py {disk}/out"
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    rc = next(x for x in lines if x.startswith("rc="))
    state = json.loads(lines[-1])
    err = [x for x in (tmp_path / "err").read_text().splitlines() if "error:" in x][-1]
    assert rc == "rc=2" and "No space left on device" in err and str(disk) in err, err
    assert all(n == 40 for n in state["rows"])  # every visible shard is whole and readable
    assert not [f for f in state["files"] if "tmp" in f]  # the partial write was removed
    record(
        "fault",
        "disk full while extracting (1 MiB tmpfs)",
        f"exit 2 with `{err.split(': error: ')[1].replace(str(disk), 'DISK')}`; {len(state['visible'])} "
        "complete shards visible, no partial file; a rerun with space resumes",
        360,
        sum(state["rows"]),
    )


def test_a_read_only_output_folder_gives_a_clear_error(small_head, tmp_path, record):
    data = _texts(50, tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    r = _in_mount_namespace(
        f"mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && "
        f"{PY} -m neuronhead.cli score --head {small_head} --data {data} --out {ro}/out --engine local"
    )
    err = [x for x in r.stderr.splitlines() if "error:" in x][-1]
    assert r.returncode == 2 and "Read-only file system" in err and f"{ro}/out" in err, r.stderr[-2000:]
    assert not list(ro.iterdir())
    record(
        "fault",
        "output folder not writable (read-only bind mount)",
        f"exit 2 with `{err.split(': error: ')[1].replace(str(ro), 'RO')}`, nothing written",
        50,
        0,
    )
