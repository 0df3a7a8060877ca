"""The shard runner: which engine ``auto`` picks, and the in-process engine's read-ahead."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from neuronhead import cli
from neuronhead.cluster import engines
from neuronhead.cluster.logs import VERBOSE
from neuronhead.data import plan_source, resolve_source
from neuronhead.models.loading import bundled_model_path, portable_tokenizer
from neuronhead.pipelines import runner
from neuronhead.pipelines.options import Engine
from neuronhead.pipelines.shards import plan_shards
from neuronhead.pipelines.worker import Computed, ShardWorker

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo" / "val.csv"


def test_auto_runs_here_on_one_cpu_actor_and_on_ray_when_ray_adds_something(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 2)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert runner.resolve_engine("auto") == "local"  # one model actor either way: no Ray to start
    assert runner.resolve_engine("auto", "10.0.0.1:6379") == "ray"  # a cluster to join
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 16)
    assert runner.resolve_engine("auto") == "ray"  # room for several CPU model actors
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 2)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert runner.resolve_engine("auto") == "ray"  # the GPU path: tokenizing in its own processes
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")  # inside `ray job submit`
    assert runner.resolve_engine("auto") == "ray"
    assert runner.resolve_engine("local") == "local" and runner.resolve_engine("ray") == "ray"
    with pytest.raises(ValueError, match="engine must be one of auto, ray, local"):
        runner.resolve_engine("spark")
    assert cli.ENGINES is engines.ENGINES  # one spelling of the choices, without importing the pipelines


class _Recorder(ShardWorker):
    """A worker that records what it got, on which thread, and when it was built."""

    events: list[str] = []

    def __init__(self, settings) -> None:
        self.events.append("worker built")

    def compute(self, shard: dict) -> Computed:
        self.events.append(f"model {shard['shard']} on {threading.current_thread().name}")
        return Computed(shard, [None] * len(shard["row"]), list(range(len(shard["row"]))))

    def finish(self, computed: Computed) -> dict:
        s = computed.shard
        self.events.append(f"write {s['shard']} on {threading.current_thread().name}")
        return {"shard": s["shard"], "rows": len(s["row"]), "ids": s["input_ids"]}


def test_the_local_engine_reads_ahead_and_yields_every_shard_in_order(monkeypatch):
    plan = plan_source(resolve_source(DEMO))
    shards = plan_shards(plan, 25)
    read_on: list[str] = []
    prepared = runner.prepare_shard

    def spy(plan, shard, tokenizer):
        read_on.append(threading.current_thread().name)
        return prepared(plan, shard, tokenizer)

    monkeypatch.setattr(runner, "prepare_shard", spy)
    _Recorder.events = []
    tokenizer = portable_tokenizer(str(bundled_model_path()), 128)
    job = runner.ShardJob(plan, shards, _Recorder, None, tokenizer)
    out = list(runner.run_shards(job, Engine("local")))
    assert [o["shard"] for o in out] == [s.shard_id for s in shards]
    assert sum(o["rows"] for o in out) == plan.n_rows == 120
    assert all(len(ids) > 2 for o in out for ids in o["ids"])  # tokenized, special tokens included
    assert all(name.startswith("neuronhead-read") for name in read_on)  # never on the model's thread
    events = _Recorder.events
    assert events[0] == "worker built" and len(events) == 1 + 2 * len(shards)
    assert all("MainThread" in e for e in events if e.startswith("model"))
    assert all("neuronhead-write" in e for e in events if e.startswith("write"))
    # every shard is written, once, in order
    assert [e.split()[1] for e in events if e.startswith("write")] == [str(s.shard_id) for s in shards]


class _Unloadable(ShardWorker):
    """A worker whose model does not load."""

    def __init__(self, settings) -> None:
        raise ValueError(f"{settings.model_path}: not a model folder")


@dataclass(frozen=True)
class _Settings:
    out: str
    model_path: str
    torch_threads: int = 0


@pytest.mark.slow
def test_a_ray_worker_that_cannot_be_built_fails_the_job_with_its_own_error(tmp_path, capfd):
    """Not as a dead actor, which ``run_shards`` would take for a lost node and retry on new pools."""
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the Ray workers cannot import tests/
    plan = plan_source(resolve_source(DEMO))
    tokenizer = portable_tokenizer(str(bundled_model_path()), 128)
    settings = _Settings(str(tmp_path), str(tmp_path / "nope"))
    job = runner.ShardJob(plan, plan_shards(plan, 40), _Unloadable, settings, tokenizer)
    with pytest.raises(ValueError, match="nope: not a model folder"):
        list(runner.run_shards(job, Engine("ray")))
    assert "a model worker was lost" not in capfd.readouterr().err


_NULL_CHECK = """
import sys, numpy as np
from neuronhead.models import HookedModel, load_model, tokenize
loaded = load_model(sys.argv[1])
hooked = HookedModel(loaded, [0, 1])
feats = hooked.features(tokenize(loaded.tokenizer, ["a text", "another one here"], 32))
np.savez(sys.argv[2], null=hooked.null_forward, f0=feats[0], f1=feats[1])
"""


def test_the_bench_null_forward_reaches_a_new_process_keeps_shapes_and_says_so(tiny_models, tmp_path):
    """bench/null_forward plugs in through PYTHONPATH alone (as Ray's workers inherit it); the
    package itself knows only the flag."""
    root = Path(__file__).resolve().parents[2]

    def run(*plug: str) -> dict:
        path = os.pathsep.join([*plug, str(root)])
        out = tmp_path / f"{len(plug)}.npz"
        cmd = [sys.executable, "-c", _NULL_CHECK, str(tiny_models["bert"]), str(out)]
        subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": path})
        return dict(np.load(out))

    null, real = run(str(root / "bench" / "null_forward")), run()
    assert bool(null["null"]) and not bool(real["null"])
    assert null["f0"].shape == null["f1"].shape == real["f0"].shape == (2, 2, real["f0"].shape[-1])
    # activation-like, not zeros (zeros would flatter the compressor), and not the model's features
    assert (null["f0"] != 0).mean() > 0.9 and not np.allclose(null["f0"], null["f1"])
    assert not np.allclose(null["f0"], real["f0"])


def _extract_stderr(out: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "neuronhead.cli", "extract", "--data", str(DEMO), "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k not in (VERBOSE, "RAY_BACKEND_LOG_LEVEL")}
    proc = subprocess.run([*cmd, "--engine", "ray", *extra], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [line for line in proc.stderr.replace("\r", "\n").splitlines() if line.strip()]


@pytest.mark.slow
def test_a_ray_extract_with_verbose_prints_ray_s_lines_too(tmp_path):
    """Without ``--verbose`` only neuronhead's lines: tests/pipelines/test_extract.py's Ray CLI test."""
    loud = _extract_stderr(tmp_path / "loud", "--verbose")
    ray_lines = [line for line in loud if not line.startswith("extract:")]
    assert ray_lines, "--verbose should show Ray's own log lines"


def test_the_console_entry_exits_with_main_s_status(tmp_path):
    """``entry`` skips the interpreter's teardown; the exit status and the error line still come out."""
    missing = tmp_path / "nope.csv"
    cmd = [sys.executable, "-m", "neuronhead.cli", "extract", "--data", str(missing), "--out"]
    proc = subprocess.run([*cmd, str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "neuronhead extract: error:" in proc.stderr and str(missing) in proc.stderr
