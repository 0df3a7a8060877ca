"""A bounded load test of ``neuronhead serve`` on 127.0.0.1, then one replica killed under load.

1. Fits two heads on the demo set with ``neuronhead fit`` (not timed): ``default`` (all six layers
   allowed) and ``k1`` (``--max-layer 1``: the forward pass stops after layer 1).
2. For each head, one ``neuronhead serve`` (1 replica) and a grid of cells: texts per request (1, 32)
   × client concurrency (1, 8, 32). Each cell sends a fixed number of requests from that many threads
   (one keep-alive connection each) and stops early at a time limit: texts/s, requests/s, p50/p99.
3. ``neuronhead serve --replicas 2`` with the default head; a fixed number of requests in flight;
   when a set number have been answered, one replica process (found below the server by the title
   Ray gives it) gets SIGKILL. Every request's outcome, what the client saw, which replica answered
   (the opaque ``x-neuronhead-replica`` tag), and when a new replica answered.

Every request loop is bounded in count and time, and targets 127.0.0.1 only. Run inside the
loopback-only sandbox (Ray starts):

    ../shared/bin/loopback-only .venv/bin/python bench/serve_load.py --out docs/data/serve_load.json
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, comma_list, machine, print_result, write_json

HEADER = "x-neuronhead-replica"  # neuronhead.serve.app.REPLICA_HEADER: an opaque tag per replica
REPLICA_TITLE = "ray::ServeReplica:neuronhead:HeadServer"  # a replica's process title (Ray sets it)
DEMO = ROOT / "examples" / "demo"


@dataclass(frozen=True)
class Cell:
    batch: int  # texts per request
    concurrency: int  # client threads, each with one request in flight
    requests: int  # requests sent (fewer if the time limit comes first)
    limit_s: float


def env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "RAY_USAGE_STATS_ENABLED": "0"}


def neuronhead(*args: str) -> list[str]:
    return [sys.executable, "-m", "neuronhead.cli", *args]


def fit_heads(work: Path) -> dict[str, Path]:
    """``default`` and ``k1`` on the demo set, one extraction (cached) for both."""
    heads = {"default": [], "k1": ["--max-layer", "1"]}
    for name, extra in heads.items():
        cmd = neuronhead("fit", "--train", str(DEMO / "train.csv"), "--val", str(DEMO / "val.csv"),
                         "--out", str(work / name), "--cache", str(work / "cache"), "--engine", "local",
                         "--no-plots", "--select-on", "none", *extra)  # fmt: skip
        subprocess.run(cmd, env=env(), check=True, stdout=subprocess.DEVNULL)
    return {name: work / name for name in heads}


def demo_texts() -> list[str]:
    with open(DEMO / "score.csv", newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f) if row["text"].strip()]


class Server:
    """``neuronhead serve`` in a child process, its output in a log file; stopped with SIGTERM."""

    def __init__(self, work: Path, heads: list[str], port: int, *flags: str) -> None:
        self.log = work / f"serve-{port}.log"
        self.port = port
        cmd = neuronhead("serve", *[a for h in heads for a in ("--head", h)], "--port", str(port), *flags)
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(cmd, env=env(), stdout=out, stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        self.wait_for(f"at http://127.0.0.1:{port} ", 240)
        self.start_s = time.monotonic() - self.started

    def wait_for(self, needle: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while needle not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)


def replica_pids(server: int) -> list[int]:
    """The replica processes below ``server`` (its Ray's raylet starts them), by their title: the
    answers tell replicas apart but carry no process id."""
    parent, title = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat, cmdline = (entry / "stat").read_text(), (entry / "cmdline").read_bytes()
        except OSError:  # ended since the listing
            continue
        pid = int(entry.name)
        parent[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        title[pid] = cmdline.split(b"\0")[0].decode("utf-8", "replace")

    def below(pid: int) -> bool:
        while pid > 1:
            pid = parent.get(pid, 0)
            if pid == server:
                return True
        return False

    return sorted(p for p, t in title.items() if t.startswith(REPLICA_TITLE) and below(p))


def one_request(conn: http.client.HTTPConnection, body: bytes) -> tuple[int | None, bytes, str | None]:
    conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.read(), response.getheader(HEADER)


def run_load(port: int, texts: list[str], cell: Cell, watch=None) -> list[dict[str, Any]]:
    """Every request's start, end, status, replica, and body when not 200; ``watch(done)`` is called
    from a side thread with the list as it fills (the replica-kill phase uses it)."""
    lock, counter, out = threading.Lock(), [0], []
    deadline = time.perf_counter() + cell.limit_s

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = counter[0]
                counter[0] += 1
            if i >= cell.requests or time.perf_counter() > deadline:
                break
            batch = [texts[(i * cell.batch + j) % len(texts)] for j in range(cell.batch)]
            body = json.dumps({"texts": batch}).encode()
            start = time.perf_counter()
            try:
                status, data, replica = one_request(conn, body)
            except (OSError, http.client.HTTPException) as exc:
                status, data, replica = None, repr(exc).encode(), None
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            end = time.perf_counter()
            ok = status == 200 and len(json.loads(data)["results"]) == cell.batch
            seen = None if ok else data[:300].decode("utf-8", "replace")
            with lock:
                out.append({"start": start, "end": end, "status": status, "ok": ok, "replica": replica,
                            "body": seen})  # fmt: skip
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(cell.concurrency)]
    side = threading.Thread(target=watch, args=(out,)) if watch else None
    for t in threads + ([side] if side else []):
        t.start()
    for t in threads + ([side] if side else []):
        t.join()
    return out


def summary(results: list[dict[str, Any]], cell: Cell) -> dict[str, Any]:
    ok = [r for r in results if r["ok"]]
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    latency = np.array([r["end"] - r["start"] for r in ok]) * 1000
    return {
        "texts_per_request": cell.batch,
        "concurrency": cell.concurrency,
        "requests_planned": cell.requests,
        "requests_sent": len(results),
        "requests_ok": len(ok),
        "stopped_by_time_limit": len(results) < cell.requests,
        "seconds": round(wall, 2),
        "texts_per_s": round(len(ok) * cell.batch / wall, 1),
        "requests_per_s": round(len(ok) / wall, 1),
        "p50_ms": round(float(np.percentile(latency, 50)), 1),
        "p99_ms": round(float(np.percentile(latency, 99)), 1),
    }


def get_json(port: int, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    data = json.loads(conn.getresponse().read())
    conn.close()
    return data


def warm(port: int, texts: list[str]) -> None:
    """First forward passes (allocations, lazy imports) are not part of any cell."""
    run_load(port, texts, Cell(batch=32, concurrency=2, requests=6, limit_s=60))


def grid(work: Path, heads: dict[str, Path], texts: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Each head behind its own one-replica server, every cell of the grid in turn."""
    out: dict[str, Any] = {}
    for name, path in heads.items():
        server = Server(work, [f"{name}={path}"], args.port, "--max-texts", str(max(args.batches)))
        info = get_json(args.port, "/heads")
        warm(args.port, texts)
        cells = []
        for batch in args.batches:
            for concurrency in args.concurrency:
                n = max(2 * concurrency, -(-args.texts_per_cell // batch))
                cell = Cell(batch, concurrency, n, args.cell_limit_s)
                cells.append(summary(run_load(args.port, texts, cell), cell))
                print(json.dumps({"head": name, **cells[-1]}), flush=True)
        out[name] = {"deepest_layer": info["depth"], "server_start_s": round(server.start_s, 1),
                     "exit_code": server.stop(), "cells": cells}  # fmt: skip
    return out


def until_a_new_replica(port: int, texts: list[str], known: set[str], seconds: float) -> list[dict[str, Any]]:
    """Single-text requests, 4 at a time, until a replica not in ``known`` answers (or time is up)."""
    deadline, out = time.perf_counter() + seconds, []
    while time.perf_counter() < deadline:
        out += run_load(port, texts, Cell(batch=1, concurrency=4, requests=8, limit_s=10))
        if {r["replica"] for r in out if r["ok"]} - known:
            break
        time.sleep(1)
    return out


def kill_a_replica(work: Path, head: Path, texts: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Two replicas, ``kill_requests`` requests from 16 clients; SIGKILL one replica after
    ``kill_after`` answers; classify every request by when it ran and who answered."""
    port = args.port + 1
    server = Server(work, [f"default={head}"], port, "--replicas", "2", "--max-texts", "32")
    warm(port, texts)
    killed: dict[str, Any] = {}

    def watch(out: list[dict[str, Any]]) -> None:
        deadline = time.perf_counter() + 120
        while len(out) < args.kill_after and time.perf_counter() < deadline:
            time.sleep(0.005)
        pid = replica_pids(server.process.pid)[0]
        killed.update(time=time.perf_counter(), answered_before=len(out))
        os.kill(pid, signal.SIGKILL)

    cell = Cell(batch=8, concurrency=16, requests=args.kill_requests, limit_s=180)
    results = run_load(port, texts, cell, watch)
    t = killed.pop("time")
    before = {r["replica"] for r in results if r["ok"] and r["end"] < t}
    extra: list[dict[str, Any]] = []
    if not any(r["ok"] and r["replica"] not in before for r in results):  # ask until a new one answers
        extra = until_a_new_replica(port, texts, before, seconds=120)
    everything = results + extra
    fresh = [r for r in everything if r["ok"] and r["replica"] not in before]
    in_flight = [r for r in results if r["start"] < t < r["end"]]
    lost = [r for r in everything if not r["ok"]]
    after = {r["replica"] for r in everything if r["ok"] and r["start"] >= t}
    gone = sorted(before - after)  # the killed one: answered before the kill, never after
    return {
        "replica": gone[0] if len(gone) == 1 else None,
        **killed,
        "replicas_before_kill": sorted(before),
        "requests": len(results),
        "texts_per_request": cell.batch,
        "concurrency": cell.concurrency,
        "in_flight_at_kill": len(in_flight),
        "in_flight_answered": sum(r["ok"] for r in in_flight),
        "in_flight_answered_by": sorted({r["replica"] for r in in_flight if r["ok"]}),
        "lost": len(lost),
        "lost_in_flight_at_kill": sum(not r["ok"] for r in in_flight),
        "lost_sent_after_kill": sum(not r["ok"] and r["start"] >= t for r in everything),
        "client_saw": sorted({f"{r['status']}: {r['body']}" for r in lost}),
        "answered_after_kill_by": sorted({r["replica"] for r in results if r["ok"] and r["start"] >= t}),
        "new_replica": fresh[0]["replica"] if fresh else None,
        "new_replica_first_answer_s": round(min(r["end"] for r in fresh) - t, 1) if fresh else None,
        "extra_requests_to_find_it": len(extra),
        "exit_code": server.stop(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "data" / "serve_load.json")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--batches", type=lambda s: comma_list(s, int), default=[1, 32], help="texts per request")
    ap.add_argument("--concurrency", type=lambda s: comma_list(s, int), default=[1, 8, 32])
    ap.add_argument("--texts-per-cell", type=int, default=480, help="texts a cell sends (≥ 2 per client)")
    ap.add_argument("--cell-limit-s", type=float, default=15.0, help="a cell stops sending after this")
    ap.add_argument("--kill-requests", type=int, default=240)
    ap.add_argument("--kill-after", type=int, default=80, help="answers before the replica is killed")
    args = ap.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        work = Path(tmp)
        heads = fit_heads(work)
        texts = demo_texts()
        result = {"machine": machine(), "args": vars(args), "grid": grid(work, heads, texts, args),
                  "kill_a_replica": kill_a_replica(work, heads["default"], texts, args)}  # fmt: skip
    result["seconds"] = round(time.perf_counter() - started, 1)
    write_json(args.out, result)
    print_result(result["kill_a_replica"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
