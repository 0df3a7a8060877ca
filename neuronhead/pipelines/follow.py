"""``neuronhead score --follow DIR``: keep a folder scored as dump files arrive, each file exactly once.

Each input file ``DIR/NAME`` gets a normal score folder ``OUT/NAME/`` (shards, manifest, summary.json),
so everything ``score`` guarantees holds per file: every row once, atomic shards, and a killed run
resumes from the finished shards. A file counts as done when its ``summary.json`` exists (score writes
it last), so a restart never rescores a finished file. ``OUT/follow.json`` is the follower's ledger
(done, failed or changed, with counts), written atomically; it is a record, the folders are the truth.

When is a file complete? A file being written must not be read, and only the writer knows when it
is done, so the rule is a protocol, not a guess from sizes or quiet periods (a dump tool can pause
longer than any quiet period; twarc waits out rate limits for 15 minutes):

- ``ready="rename"`` (default): the writer writes under a temporary name and renames the file into
  place, which is atomic on one filesystem (rsync, ``curl -o x.part && mv``, Spark do). Names that
  start with ``.`` or ``_`` or end in a temporary suffix (``SKIPPED_SUFFIXES``) are never read.
- ``ready="marker"``: only ``NAME`` with a ``NAME.done`` beside it, for writers that write in place.

A file that changes after it was scored (or while: a writer that broke the rule) is not rescored or
mixed: the follower warns once, marks it ``changed`` in the ledger and keeps the outputs of the version
it read. Delete ``OUT/NAME/`` to have the current version scored. A file that cannot be scored at all
(not a known format, no text column) is marked ``failed`` with the reason; the follower goes on, and
tries it again when the file changes or the follower restarts.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from neuronhead.pipelines.fingerprint import file_stamps
from neuronhead.pipelines.headset import HeadSet
from neuronhead.pipelines.runner import resolve_engine
from neuronhead.pipelines.scoring import ScoreOptions, score_with
from neuronhead.pipelines.scoring_worker import KeptScorer, ShardScorer
from neuronhead.store import MANIFEST, read_manifest, write_json

READY = ("rename", "marker")
MARKER = ".done"
LEDGER = "follow.json"
SUMMARY = "summary.json"
SKIPPED_PREFIXES = (".", "_")  # hidden temporaries (rsync's .NAME.XXXX), _SUCCESS, _temporary
SKIPPED_SUFFIXES = (
    ".tmp",
    ".temp",
    ".part",
    ".partial",
    ".crdownload",
    ".download",
    ".filepart",
    "~",
    MARKER,
)


@dataclass(frozen=True)
class FollowOptions:
    """How the folder is watched: which files are complete, how often to look, and when to stop."""

    ready: str = "rename"  # rename or marker (module docstring)
    poll: float = 5.0  # seconds between looks at the folder
    until_idle: float | None = None  # stop after this many seconds with nothing new; None: until interrupted


def skipped(name: str) -> bool:
    """A temporary or marker name: never an input, whatever the rule."""
    return name.startswith(SKIPPED_PREFIXES) or name.endswith(SKIPPED_SUFFIXES)


def ready_files(folder: Path, ready: str = "rename") -> list[Path]:
    """The complete files directly in ``folder`` by the rule ``ready``, oldest first (subfolders are
    not entered)."""
    if ready not in READY:
        raise ValueError(f"--ready must be one of {', '.join(READY)}, not {ready!r}")
    found = []
    with os.scandir(folder) as entries:
        for e in entries:
            if skipped(e.name) or not e.is_file():
                continue
            if ready == "marker" and not (folder / (e.name + MARKER)).is_file():
                continue
            try:
                found.append((e.stat().st_mtime_ns, e.name))
            except FileNotFoundError:  # moved away since the listing
                continue
    return [folder / name for _, name in sorted(found)]


class Ledger:
    """``OUT/follow.json``: what the follower did with each file, rewritten atomically on every change."""

    def __init__(self, out: Path, folder: Path, key: str) -> None:
        self.path = out / LEDGER
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        if data and data.get("settings") != key:
            raise ValueError(f"{out} was followed with other heads or options; choose another --out")
        if data and data.get("folder") != str(folder):
            raise ValueError(f"{out} follows another folder ({data.get('folder')}); choose another --out")
        self.data = {"folder": str(folder), "settings": key, "files": data.get("files", {})}
        write_json(self.data, self.path)  # settings first, so a follower with others is refused at once

    def entry(self, name: str) -> dict[str, Any]:
        return self.data["files"].get(name, {})

    def record(self, name: str, **entry: Any) -> None:
        entry["at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.data["files"][name] = entry
        write_json(self.data, self.path)

    def counts(self) -> dict[str, int]:
        """Files per status, and the rows of the scored ones."""
        out = {"done": 0, "failed": 0, "changed": 0, "rows_in": 0, "scored": 0, "errors": 0, "filtered": 0}
        for e in self.data["files"].values():
            out[e["status"]] += 1
            for k in ("rows_in", "scored", "errors", "filtered"):
                out[k] += e.get(k) or 0
        return out


def settings_key(heads: HeadSet, options: ScoreOptions) -> str:
    """What makes two followers' outputs alike: the heads and how rows are read and written."""
    key = {
        "heads": [[b.name, b.sha256] for b in heads.blobs],
        "reading": asdict(options.reading),
        "shard_rows": options.output.shard_rows,
        "keep_text": options.keep_text,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def say(line: str) -> None:
    print(f"follow: {line}", flush=True)


def follow(
    heads: HeadSet | list[str],
    folder: str | os.PathLike,
    out: str | os.PathLike,
    options: ScoreOptions = ScoreOptions(),
    watch: FollowOptions = FollowOptions(),
) -> dict[str, int]:
    """Score every complete file of ``folder`` into ``out/NAME/``, once, as files arrive; returns the
    ledger's counts when ``watch.until_idle`` passes with nothing new (Ctrl-C ends it any time: what
    is finished stays, and the same call resumes)."""
    folder, out = Path(folder).resolve(), Path(out).resolve()
    if not folder.is_dir():
        raise ValueError(f"--follow {folder}: not a folder")
    if out == folder:
        raise ValueError("--out must not be the followed folder")
    ready_files(folder, watch.ready)  # checks the rule before anything is loaded
    if not isinstance(heads, HeadSet):
        heads = HeadSet.load(heads, normalize=options.reading.normalize)
    out.mkdir(parents=True, exist_ok=True)
    follower = Follower(heads, out, options, Ledger(out, folder, settings_key(heads, options)))
    rule = "a NAME.done marker beside it" if watch.ready == "marker" else "renamed into place"
    say(f"watching {folder} (a file is taken once {rule}; poll {watch.poll:g} s) → {out}")
    idle_since = time.monotonic()
    with _sigterm_interrupts():
        while True:
            if any([follower.visit(path) for path in ready_files(folder, watch.ready)]):
                idle_since = time.monotonic()
            elif watch.until_idle is not None and time.monotonic() - idle_since >= watch.until_idle:
                break
            time.sleep(watch.poll if watch.until_idle is None else min(watch.poll, watch.until_idle))
    say(f"idle for {watch.until_idle:g} s; stopping")  # the counts: returned (`score` prints them once)
    return follower.ledger.counts()


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """``kill PID`` (systemd, docker stop) ends the follower as Ctrl-C does: the shard being written
    is finished or dropped whole, and the same command resumes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Follower:
    """One ``score`` per new file, with heads (and, in-process, the model) loaded once for all."""

    def __init__(self, heads: HeadSet, out: Path, options: ScoreOptions, ledger: Ledger) -> None:
        self.heads, self.out, self.options, self.ledger = heads, out, options, ledger
        local = resolve_engine(options.engine.engine, options.engine.address) == "local"
        self.worker = KeptScorer() if local else ShardScorer  # Ray's actors load their own model per file
        # name → (size, mtime_ns) in this run: compared with its scores at that stamp / failed at it
        self.checked: dict[str, tuple[int, int]] = {}
        self.failed: dict[str, tuple[int, int]] = {}

    def visit(self, path: Path) -> bool:
        """Score ``path`` unless it is done (or failed, unchanged, in this run); True if it was tried."""
        name, dest = path.name, self.out / path.name
        try:
            st = path.stat()
        except FileNotFoundError:  # moved away between the listing and now
            return False
        stamp = (st.st_size, st.st_mtime_ns)
        if (dest / SUMMARY).exists():  # scored before (this run or an earlier one): never again
            if self.checked.get(name) != stamp:
                self._check_unchanged(path, dest)
                self.checked[name] = stamp
            return False
        if self.failed.get(name) == stamp:
            return False
        if name == LEDGER:
            self._failed(name, stamp, f"its name is the follower's ledger ({LEDGER}); rename the file")
            return True
        return self._score(path, dest, stamp)

    def _score(self, path: Path, dest: Path, stamp: tuple[int, int]) -> bool:
        name = path.name
        resumed = (dest / MANIFEST).exists()
        say(f"{name}: {'resuming' if resumed else 'scoring'}")
        try:
            result = score_with(self.heads, path, dest, self.options, self.worker)
        except Exception as exc:  # one bad file must not stop the follower; KeyboardInterrupt still does
            self._failed(name, stamp, f"{type(exc).__name__}: {exc}")
            return True
        self._done(name, stamp, result)
        counts = self.ledger.counts()
        say(
            f"{name}: scored {result['scored']}, {result['errors']} errors, {result['filtered']} filtered, "
            f"{result['rows_in']} in → {dest} (files: {counts['done']} done, {counts['failed']} failed)"
        )
        self._check_unchanged(path, dest)  # a writer still at it while we read: say so
        return True

    def _done(self, name: str, stamp: tuple[int, int], summary: dict[str, Any]) -> None:
        counts = {k: summary[k] for k in ("rows_in", "scored", "errors", "filtered")}
        self.ledger.record(name, status="done", size=stamp[0], mtime_ns=stamp[1], **counts)

    def _failed(self, name: str, stamp: tuple[int, int], reason: str) -> None:
        print(f"follow: warning: {name}: not scored: {reason}", file=sys.stderr, flush=True)
        self.failed[name] = stamp
        self.ledger.record(name, status="failed", size=stamp[0], mtime_ns=stamp[1], error=reason)

    def _check_unchanged(self, path: Path, dest: Path) -> None:
        """Compare the file with the version its scores came from (the stamp in their manifest); a
        changed file is not rescored: warn once and mark it ``changed``."""
        stamps = read_manifest(dest).file_stamps or []
        scored = stamps[0]  # [path, size, mtime_ns, sha256] when the file was read
        now = file_stamps([str(path)], stamps)[0]
        entry = self.ledger.entry(path.name)
        if now.sha256 == scored[3]:
            if entry.get("status") != "done":  # scored, but killed before the ledger said so
                self._done(path.name, (now.size, now.mtime_ns), json.loads((dest / SUMMARY).read_text()))
            return
        changed = [now.size, now.mtime_ns]
        if entry.get("status") == "changed" and entry.get("changed_to") == changed:
            return  # warned already
        print(
            f"follow: warning: {path.name} changed after it was scored; its scores in {dest} are of the "
            f"version read then ({scored[1]} bytes). Not rescored: delete {dest} to score the new version",
            file=sys.stderr,
            flush=True,
        )
        self.ledger.record(path.name, **{**entry, "status": "changed", "changed_to": changed})
