"""``neuronhead score --follow``: files that arrive complete are scored once each, into a folder of their
own, as a plain ``score`` of the file would; partial files are never read; a changed file is not
rescored; a file that fails is recorded and passed over; a follower killed (SIGKILL) mid-file resumes
without duplicating, losing or rescoring a row."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from neuronhead.cli import main
from neuronhead.pipelines import follow as follow_module
from neuronhead.pipelines.follow import LEDGER, FollowOptions, follow, ready_files
from neuronhead.pipelines.options import Engine, Output
from neuronhead.pipelines.scoring import ScoreOptions, score
from neuronhead.pipelines.scoring_worker import KeptScorer
from neuronhead.store import shard_files
from tests.demo_features import fit_demo_heads
from tests.paths import DEMO, REPO
from tests.tweets.test_reader import V1_PLAIN, V2_LONG, V2_PLAIN

QUICK = ScoreOptions(engine=Engine("local"), output=Output(shard_rows=40, progress=False))


@pytest.fixture(scope="module")
def head(tmp_path_factory, tiny_models) -> Path:
    """A k = 1 head on the tiny BERT (seconds): the quick tier's scorer."""
    root = tmp_path_factory.mktemp("follow")
    fit_demo_heads(root, "0-1", {"head": 1}, model=str(tiny_models["bert"]))
    return root / "head"


def _demo_rows() -> list[list[str]]:
    with open(DEMO / "score.csv", newline="") as f:
        return [[r["id"], r["text"]] for r in csv.DictReader(f)]


def _drop(folder: Path, name: str, rows: list[list[str]]) -> Path:
    """Write a CSV as a dump tool should: under a temporary name, then renamed into place."""
    tmp = folder / f".{name}.tmp"
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows([["id", "text"], *rows])
    os.replace(tmp, folder / name)
    return folder / name


def _scores(folder: Path):
    return pq.read_table(shard_files(folder)).sort_by("row").to_pandas()


def _same_as_plain_score(head: Path, path: Path, out: Path, tmp: Path, shard_rows: int = 40) -> None:
    """``out`` holds what ``score`` of ``path`` alone writes: every row once, the same values."""
    plain = tmp / f"plain-{path.name}"
    score(
        [str(head)], path, plain, engine=Engine("local"), output=Output(shard_rows=shard_rows, progress=False)
    )
    a, b = _scores(out), _scores(plain)
    assert list(a["row"]) == list(range(len(b))) and a["id"].is_unique
    scores = [c for c in a.columns if c.endswith("_scores")]
    assert a.drop(columns=scores).equals(b.drop(columns=scores))
    for c in scores:
        np.testing.assert_allclose(np.stack(a[c]), np.stack(b[c]), atol=1e-6)
    assert json.loads((out / "summary.json").read_text())["rows_in"] == len(b)


def _stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """Every shard of every file folder: (inode, mtime_ns), which a rewrite would change."""
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.glob("*/shards/shard-*.parquet")
    }


def test_only_complete_files_are_read(tmp_path):
    for name in ["a.csv", "b.jsonl", ".c.csv.x7Yq", "d.csv.tmp", "e.csv.part", "f.partial", "_SUCCESS", "g~"]:
        (tmp_path / name).write_text("id,text\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.jsonl.done").touch()
    assert [p.name for p in ready_files(tmp_path)] == ["a.csv", "b.jsonl"]  # renamed into place
    assert [p.name for p in ready_files(tmp_path, "marker")] == ["b.jsonl"]  # with NAME.done only
    with pytest.raises(ValueError, match="--ready must be one of"):
        ready_files(tmp_path, "quiet")


@pytest.fixture
def built(monkeypatch) -> list[KeptScorer]:
    """The follower's ``KeptScorer``s, to count the models they loaded."""
    made: list[KeptScorer] = []

    class Counted(KeptScorer):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(follow_module, "KeptScorer", Counted)
    return made


def test_files_arriving_while_it_runs_are_scored_once_each_as_plain_score_does(head, tmp_path, built, capsys):
    rows = _demo_rows()
    dump, out = tmp_path / "dump", tmp_path / "out"
    dump.mkdir()
    files = [_drop(dump, "part-0.csv", rows[:100])]

    def writer() -> None:  # more files while the follower runs, and one still being written
        deadline = time.time() + 60
        while not (out / "part-0.csv" / "summary.json").exists() and time.time() < deadline:
            time.sleep(0.02)
        (dump / "part-3.csv.part").write_text("id,text\nhalf,a row still being wri")
        files.append(_drop(dump, "part-1.csv", rows[100:200]))
        files.append(_drop(dump, "part-2.csv", rows[200:]))

    thread = threading.Thread(target=writer)
    thread.start()
    counts = follow([str(head)], dump, out, QUICK, FollowOptions(poll=0.05, until_idle=3))
    thread.join()
    assert sorted(p.name for p in out.iterdir()) == [LEDGER, "part-0.csv", "part-1.csv", "part-2.csv"]
    assert counts["done"] == 3 and counts["rows_in"] == counts["scored"] == len(rows)
    for path in files:
        _same_as_plain_score(head, path, out / path.name, tmp_path)
    assert len(built) == 1 and built[0].built == 1  # the model was loaded once for the three files
    said = capsys.readouterr().out
    assert "follow: part-1.csv: scoring" in said and "scored 100, 0 errors, 0 filtered, 100 in" in said


def test_a_tweet_dump_after_a_csv_keeps_the_model_and_gets_its_tweet_columns(head, tmp_path, built):
    dump, out = tmp_path / "dump", tmp_path / "out"
    dump.mkdir()
    csv_file = _drop(dump, "a.csv", _demo_rows()[:20])
    tweets = dump / "b.jsonl"
    tweets.write_text("".join(json.dumps(r) + "\n" for r in (V1_PLAIN, V2_PLAIN, V2_LONG)))
    os.utime(tweets, ns=(csv_file.stat().st_mtime_ns + 1,) * 2)  # after the CSV
    counts = follow([str(head)], dump, out, QUICK, FollowOptions(poll=0.01, until_idle=0))
    assert counts["done"] == 2 and len(built) == 1 and built[0].built == 1
    assert (
        "created_at" in _scores(out / "b.jsonl").columns
        and "created_at" not in _scores(out / "a.csv").columns
    )
    _same_as_plain_score(head, tweets, out / "b.jsonl", tmp_path)
    _same_as_plain_score(head, csv_file, out / "a.csv", tmp_path)


def test_marker_mode_waits_for_the_marker_and_never_rescores(head, tmp_path):
    rows = _demo_rows()
    dump, out = tmp_path / "dump", tmp_path / "out"
    dump.mkdir()
    _drop(dump, "a.csv", rows[:50])
    _drop(dump, "b.csv", rows[50:90])
    (dump / "b.csv.done").touch()
    marker = FollowOptions(ready="marker", poll=0.01, until_idle=0)
    follow([str(head)], dump, out, QUICK, marker)
    assert not (out / "a.csv").exists() and (out / "b.csv" / "summary.json").exists()
    before = _stamps(out)
    (dump / "a.csv.done").touch()
    counts = follow([str(head)], dump, out, QUICK, marker)
    assert counts["done"] == 2 and counts["rows_in"] == 90
    after = _stamps(out)
    assert {k: after[k] for k in before} == before  # b.csv's shards were not written again
    _same_as_plain_score(head, dump / "a.csv", out / "a.csv", tmp_path)


def test_a_changed_file_is_not_rescored_and_a_failed_file_does_not_stop_it(head, tmp_path, capsys):
    rows = _demo_rows()
    dump, out = tmp_path / "dump", tmp_path / "out"
    dump.mkdir()
    good = _drop(dump, "good.csv", rows[:30])
    (dump / "bad-rows.csv").write_bytes(b"id,text\nr1,fine\nr2,bad \xff utf8\nr3,also fine\n")
    (dump / "no-text.csv").write_text("id,txt\n1,hello\n")  # fails as a whole: no text column
    (dump / "notes.txt").write_text("not a dump\n")
    once = FollowOptions(poll=0.01, until_idle=0)
    counts = follow([str(head)], dump, out, QUICK, once)
    ledger = json.loads((out / LEDGER).read_text())["files"]
    assert counts["done"] == 2 and counts["failed"] == 2
    assert (
        "no 'text' column" in ledger["no-text.csv"]["error"]
        and "unknown format" in ledger["notes.txt"]["error"]
    )
    assert not (out / "no-text.csv").exists() and not (out / "notes.txt").exists()  # no empty folders
    bad = _scores(out / "bad-rows.csv")  # score's rule: the unreadable row comes out with its reason
    assert (
        len(bad) == 3
        and bad["error"].notna().sum() == 1
        and "not valid UTF-8" in bad["error"].dropna().iloc[0]
    )

    before = _stamps(out)
    with open(good, "a") as f:
        f.write("late,a row added after scoring\n")
    capsys.readouterr()
    follow([str(head)], dump, out, QUICK, once)
    follow([str(head)], dump, out, QUICK, once)  # a second look (a restart) does not warn again
    err = capsys.readouterr().err
    assert err.count("good.csv changed after it was scored") == 1
    assert json.loads((out / LEDGER).read_text())["files"]["good.csv"]["status"] == "changed"
    assert _stamps(out) == before and len(_scores(out / "good.csv")) == 30  # kept, not rescored or mixed


def test_follower_flags_need_follow_and_an_out_needs_the_same_settings(head, tmp_path, capsys):
    argv = ["score", "--head", str(head), "--data", str(DEMO / "val.csv"), "--out", str(tmp_path / "o")]
    assert main([*argv, "--poll", "1"]) == 2
    assert "--poll goes with --follow" in capsys.readouterr().err
    dump = tmp_path / "dump"
    dump.mkdir()
    follow([str(head)], dump, tmp_path / "out", QUICK, FollowOptions(until_idle=0))
    other = ScoreOptions(engine=Engine("local"), output=Output(shard_rows=7, progress=False))
    with pytest.raises(ValueError, match="followed with other heads or options"):
        follow([str(head)], dump, tmp_path / "out", other, FollowOptions(until_idle=0))


def test_score_follow_prints_its_counts_once(head, tmp_path, capsys):
    dump = tmp_path / "dump"
    dump.mkdir()
    _drop(dump, "a.csv", _demo_rows()[:20])
    argv = ["score", "--head", str(head), "--follow", str(dump), "--out", str(tmp_path / "out"),
            "--engine", "local", "--poll", "0.05", "--until-idle", "0.5"]  # fmt: skip
    assert main(argv) == 0
    said = capsys.readouterr().out
    counts = json.loads(said.strip().splitlines()[-1])
    assert counts["done"] == 1 and counts["scored"] == 20
    assert said.count('"done": 1') == 1, said
    assert "follow: idle for 0.5 s; stopping" in said


# ---- slow: the bundled MiniLM, a real process killed with SIGKILL ----


@pytest.fixture(scope="module")
def minilm_head(demo_heads) -> Path:
    return demo_heads / "k1"


def _follower(head: Path, dump: Path, out: Path, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "neuronhead.cli", "score", "--head", str(head), "--follow", str(dump),
           "--out", str(out), "--shard-rows", "20", "--batch-size", "4", "--engine", "local",
           "--poll", "0.1", "--until-idle", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log, "ab") as f:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)


def _mid_file(out: Path, done: int) -> bool:
    """``done`` files finished and another part-way: the moment to stop the follower."""
    finished = [d for d in out.glob("*.csv") if (d / "summary.json").exists()]
    started = [d for d in out.glob("*.csv") if len(shard_files(d)) >= 2 and not (d / "summary.json").exists()]
    return len(finished) >= done and bool(started)


def _stop_mid_file(proc: subprocess.Popen, out: Path, done: int, sig: int, log: Path) -> int:
    deadline = time.time() + 300
    while not _mid_file(out, done):
        assert proc.poll() is None, f"the follower ended before it was stopped: {log.read_text()[-2000:]}"
        assert time.time() < deadline, "timed out waiting for a file to be part-way"
        time.sleep(0.01)
    proc.send_signal(sig)
    return proc.wait(timeout=60)


def _finished(out: Path) -> set[str]:
    return {d.name for d in out.glob("*.csv") if (d / "summary.json").exists()}


@pytest.mark.slow
def test_a_follower_killed_mid_file_resumes_each_file_exactly_once(minilm_head, tmp_path, record):
    rows = _demo_rows()
    dump, out, log = tmp_path / "dump", tmp_path / "out", tmp_path / "follow.log"
    dump.mkdir()
    files = [_drop(dump, f"dump-{i}.csv", [[f"{i}-{r[0]}", r[1]] for r in rows]) for i in range(4)]
    _stop_mid_file(_follower(minilm_head, dump, out, log), out, 1, signal.SIGKILL, log)
    killed, finished = _stamps(out), _finished(out)
    assert 1 <= len(finished) < len(files)

    # Restarted, then stopped with SIGTERM (kill PID) one file later: a clean stop, exit 130.
    rc = _stop_mid_file(_follower(minilm_head, dump, out, log), out, len(finished) + 1, signal.SIGTERM, log)
    assert rc == 130 and "interrupted; run it again to resume" in log.read_text()
    termed, finished_before = _stamps(out), _finished(out)
    assert {k: termed[k] for k in killed} == killed  # finished files and finished shards: not rewritten

    proc = _follower(minilm_head, dump, out, log)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    after = _stamps(out)
    assert {k: after[k] for k in termed} == termed
    assert not {k.split("/")[0] for k in set(after) - set(termed)} & finished_before  # none rescored
    for path in files:  # every row of every file exactly once, as a plain score of the file
        _same_as_plain_score(minilm_head, path, out / path.name, tmp_path, shard_rows=20)
    ledger = json.loads((out / LEDGER).read_text())["files"]
    assert {e["status"] for e in ledger.values()} == {"done"} and len(ledger) == len(files)
    resumed = [line for line in log.read_text().splitlines() if ": resuming" in line]
    assert len(resumed) == 2  # once after the kill, once after the stop
    record(
        "fault",
        "score --follow killed (SIGKILL) mid-file, restarted, stopped (SIGTERM) mid-file, restarted",
        f"each restart left the finished files untouched and resumed the interrupted file from its finished "
        f"shards ({len(killed) - 15 * len(finished)} after the kill); SIGTERM exits 130; every row of every "
        "file exactly once, equal to a plain score of the file",
        len(files) * len(rows),
        sum(len(_scores(out / p.name)) for p in files),
    )
