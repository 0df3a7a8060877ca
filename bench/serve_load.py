"""A bounded load test of ``neuronhead serve`` on 127.0.0.1, then model replicas killed under load.

1. Fits two heads on the demo set with ``neuronhead fit`` (not timed): ``default`` (all six layers
   allowed) and ``k1`` (``--max-layer 1``: the forward pass stops after layer 1).
2. For each head, one ``neuronhead serve`` (1 replica) and a grid of cells: texts per request (1, 32)
   × client concurrency (1, 8, 32). Each cell sends a fixed number of requests from that many threads
   (one keep-alive connection each) and stops early at a time limit: texts/s, requests/s, p50/p99.
3. ``neuronhead serve --replicas 2`` with the default head and 16 clients sending without pause.
   Three times: one model replica (``HeadServer``; its pid from the GCS actor table, this script
   joining the server's Ray as a second driver) gets SIGKILL, and once Serve reports two replicas
   running again the load goes on ``--settle-s`` before the next kill. Every request carries an id:
   sent against answered, each answer's status and labels (against the labels the same texts got
   before any kill), and p50/p99 before, during (kill to replacement running) and after each kill.

Every request loop is bounded in count and time, and targets 127.0.0.1 only. Each server's Ray
keeps its files in a folder of its own (``TMPDIR``). Run inside the loopback-only sandbox (Ray starts):

    ../shared/bin/loopback-only .venv/bin/python bench/serve_load.py \
        --out docs/data/cpu-2026-12-08/serve_load.json
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import shutil
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

DEMO = ROOT / "examples" / "demo"
MODEL_REPLICA = "ServeReplica:neuronhead:HeadServer"  # the GCS actor class of a model replica


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
    """``neuronhead serve`` in a child process, its output in a log file; stopped with SIGTERM. Its
    Ray keeps its files in a short folder of its own (``TMPDIR``): found there, shared with no one."""

    def __init__(self, work: Path, heads: list[str], port: int, *flags: str) -> None:
        self.log = work / f"serve-{port}.log"
        self.port = port
        self.tmp = Path(tempfile.mkdtemp(prefix="nh-"))  # Ray's socket paths must fit 107 bytes
        cmd = neuronhead("serve", *[a for h in heads for a in ("--head", h)], "--port", str(port), *flags)
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                cmd, env={**env(), "TMPDIR": str(self.tmp)}, stdout=out, stderr=subprocess.STDOUT
            )
        self.started = time.monotonic()
        self.wait_for(f"at http://127.0.0.1:{port} ", 240)
        self.start_s = time.monotonic() - self.started

    def wait_for(self, needle: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while needle not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)

    def join_ray(self) -> None:
        """This process as a second driver of the server's Ray (its GCS port from the session folder)."""
        # a local Ray asks for the token (~/.ray/auth_token) it made; to an address given, Ray sends
        # it only when told to, before its first import reads the setting
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        import ray

        session = self.tmp / f"neuronhead-ray-{os.getuid()}" / "session_latest"
        port = next(session.glob("gcs_server_port_*")).read_text().strip()
        ray.init(address=f"127.0.0.1:{port}", logging_level="ERROR", log_to_driver=False)

    def stop(self) -> int:
        ray = sys.modules.get("ray")  # not imported here before join_ray: it must set RAY_AUTH_MODE first
        if ray is not None:
            ray.shutdown()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=120)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return code


def one_request(conn: http.client.HTTPConnection, body: bytes) -> tuple[int | None, bytes]:
    conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.read()


def labels_of(data: bytes) -> list[str | None]:
    """The one head's label of each text of an answer (None for an empty text)."""
    results = json.loads(data)["results"]
    return [next(iter(r["heads"].values()))["label"] if r["heads"] else None for r in results]


def differing(labels: list[str | None], batch: list[str], expected: dict[str, str]) -> int:
    return sum(label != expected[text] for label, text in zip(labels, batch, strict=True))


def run_load(port: int, texts: list[str], cell: Cell, watch=None, expected=None) -> list[dict[str, Any]]:
    """Every request's id, start, end, status, and body when not 200; with ``expected`` (text →
    label), how many of its labels differ. ``watch(done)`` runs in a side thread with the list as it
    fills; the clients stop sending when it returns (the kill phase uses it)."""
    lock, counter, out, stop = threading.Lock(), [0], [], threading.Event()
    deadline = time.perf_counter() + cell.limit_s

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while not stop.is_set():
            with lock:
                i = counter[0]
                counter[0] += 1
            if i >= cell.requests or time.perf_counter() > deadline:
                break
            batch = [texts[(i * cell.batch + j) % len(texts)] for j in range(cell.batch)]
            body = json.dumps({"texts": batch}).encode()
            start = time.perf_counter()
            try:
                status, data = one_request(conn, body)
            except (OSError, http.client.HTTPException) as exc:
                status, data = None, repr(exc).encode()
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            end = time.perf_counter()
            ok = status == 200 and len(json.loads(data)["results"]) == cell.batch
            wrong = differing(labels_of(data), batch, expected) if ok and expected else 0
            seen = None if ok else data[:300].decode("utf-8", "replace")
            with lock:
                out.append({"id": i, "start": start, "end": end, "status": status, "ok": ok,
                            "wrong_labels": wrong, "body": seen})  # fmt: skip
        conn.close()

    failed: list[BaseException] = []

    def watcher() -> None:
        try:
            watch(out)
        except BaseException as exc:  # raised again below, once the clients have stopped
            failed.append(exc)
        finally:
            stop.set()

    threads = [threading.Thread(target=worker) for _ in range(cell.concurrency)]
    side = [threading.Thread(target=watcher)] if watch else []
    for t in threads + side:
        t.start()
    for t in threads + side:
        t.join()
    if failed:
        raise failed[0]
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
        cells = []
        try:
            info = get_json(args.port, "/heads")
            warm(args.port, texts)
            for batch in args.batches:
                for concurrency in args.concurrency:
                    n = max(2 * concurrency, -(-args.texts_per_cell // batch))
                    cell = Cell(batch, concurrency, n, args.cell_limit_s)
                    cells.append(summary(run_load(args.port, texts, cell), cell))
                    print(json.dumps({"head": name, **cells[-1]}), flush=True)
        finally:
            exit_code = server.stop()
        out[name] = {"deepest_layer": info["depth"], "server_start_s": round(server.start_s, 1),
                     "exit_code": exit_code, "cells": cells}  # fmt: skip
    return out


def model_replica_pids() -> list[int]:
    """Live model replicas' pids from the GCS actor table (``ray.util.state`` asks the dashboard,
    which ``neuronhead serve`` keeps off)."""
    from ray._private.state import actors

    live = [a for a in actors().values() if a["ActorClassName"] == MODEL_REPLICA and a["State"] == "ALIVE"]
    return sorted(a["Pid"] for a in live)


def running_model_replicas() -> int:
    from ray import serve

    deployment = serve.status().applications["neuronhead"].deployments["HeadServer"]
    return deployment.replica_states.get("RUNNING", 0)


def kill_and_wait(t0: float, seen: list[int], seconds: float) -> dict[str, Any]:
    """SIGKILL the model replica seen first (``seen``: pids in the order they appeared; the kills take
    turns), then wait until Serve runs two replicas again, the victim not among them."""
    pids = model_replica_pids()
    seen += [p for p in pids if p not in seen]
    victim = next(p for p in seen if p in pids)
    killed = time.perf_counter()
    os.kill(victim, signal.SIGKILL)
    deadline = killed + seconds
    while time.perf_counter() < deadline:
        time.sleep(0.25)
        pids = model_replica_pids()
        if victim not in pids and len(pids) == 2 and running_model_replicas() == 2:
            break
    else:
        raise TimeoutError(f"no replacement for replica {victim} running in {seconds} s")
    up = time.perf_counter()
    return {"pid": victim, "at_s": round(killed - t0, 2), "killed": killed, "up": up,
            "replacement_running_after_s": round(up - killed, 2)}  # fmt: skip


def phases(results: list[dict[str, Any]], kills: list[dict[str, Any]], t0: float) -> list[dict[str, Any]]:
    """p50/p99 of the requests sent before the first kill, during each (kill to replacement running)
    and after it (to the next kill or the end)."""
    edges = [("before", t0)]
    for n, k in enumerate(kills, 1):
        edges += [(f"during kill {n}", k["killed"]), (f"after kill {n}", k["up"])]
    out = []
    for (name, lo), (_, hi) in zip(edges, edges[1:] + [("end", float("inf"))], strict=True):
        part = [r for r in results if lo <= r["start"] < hi]
        latency = np.array([r["end"] - r["start"] for r in part if r["ok"]]) * 1000
        p50, p99 = (round(float(np.percentile(latency, q)), 1) if len(latency) else None for q in (50, 99))
        out.append({"phase": name, "from_s": round(lo - t0, 1), "requests": len(part),
                    "non_2xx": sum(not r["ok"] for r in part), "p50_ms": p50, "p99_ms": p99})  # fmt: skip
    return out


def scrape(port: int) -> dict[str, float]:
    """Ray's Prometheus metrics of the server's node: every ``ray_serve_*`` and ``ray_neuronhead_*``
    sample summed over its labels."""
    from prometheus_client.parser import text_string_to_metric_families

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(("ray_serve_", "ray_neuronhead_")):
                sums[sample.name] = sums.get(sample.name, 0) + sample.value
    return sums


def expected_labels(port: int, texts: list[str]) -> dict[str, str]:
    """Each text's label before any kill (requests of 32, which also warm both replicas)."""
    conn, labels = http.client.HTTPConnection("127.0.0.1", port, timeout=120), {}
    for i in range(0, len(texts), 32):
        status, data = one_request(conn, json.dumps({"texts": texts[i : i + 32]}).encode())
        assert status == 200, data
        labels.update(zip(texts[i : i + 32], labels_of(data), strict=True))
    conn.close()
    return labels


def kill_replicas(work: Path, head: Path, texts: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Two replicas, 16 clients sending 8 texts a request without pause; ``--kills`` times a model
    replica gets SIGKILL, each after ``--settle-s`` of load with two replicas running."""
    port, metrics_port = args.port + 1, args.port + 2
    flags = ("--replicas", "2", "--max-texts", "32", "--metrics-port", str(metrics_port))
    server = Server(work, [f"default={head}"], port, *flags)
    kills: list[dict[str, Any]] = []
    seen: list[int] = []

    def choreography(out: list[dict[str, Any]]) -> None:
        time.sleep(args.settle_s)
        for _ in range(args.kills):
            kills.append(kill_and_wait(t0, seen, seconds=240))
            time.sleep(args.settle_s)

    cell = Cell(batch=8, concurrency=16, requests=args.kill_max_requests, limit_s=args.kill_limit_s)
    try:  # a failure still stops the server (its Ray would outlive this script)
        server.join_ray()
        expected = expected_labels(port, texts)
        t0 = time.perf_counter()
        results = run_load(port, texts, cell, choreography, expected)
        time.sleep(15)  # Ray exports metrics every few seconds
        metrics = scrape(metrics_port)
    finally:
        exit_code = server.stop()
    ids = [r["id"] for r in results]
    lost = [r for r in results if not r["ok"]]
    in_flight = [r for r in results for k in kills if r["start"] < k["killed"] < r["end"]]
    return {
        "replicas": 2, "texts_per_request": cell.batch, "concurrency": cell.concurrency,
        "requests_sent": len(results),
        "answered_200": sum(r["ok"] for r in results),
        "non_2xx": len(lost),
        "client_saw": sorted({f"{r['status']}: {r['body']}" for r in lost}),
        "every_id_answered_once": sorted(ids) == list(range(len(ids))),
        "labels_differing_from_before_the_kills": sum(r["wrong_labels"] for r in results),
        "in_flight_at_a_kill": len(in_flight),
        "in_flight_answered_200": sum(r["ok"] for r in in_flight),
        "kills": [{k: v for k, v in kill.items() if k not in ("killed", "up")} for kill in kills],
        "phases": phases(results, kills, t0),
        "requests_resent_by_the_ingress": metrics.get("ray_neuronhead_requests_resent_total", 0),
        "metrics_scraped": sorted(metrics),
        "seconds": round(max(r["end"] for r in results) - t0, 1),
        "exit_code": exit_code,
    }  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "data" / "serve_load.json")
    ap.add_argument("--port", type=int, default=8000, help="the grid's; the kill phase uses the next two")
    ap.add_argument("--batches", type=lambda s: comma_list(s, int), default=[1, 32], help="texts per request")
    ap.add_argument("--concurrency", type=lambda s: comma_list(s, int), default=[1, 8, 32])
    ap.add_argument("--texts-per-cell", type=int, default=480, help="texts a cell sends (≥ 2 per client)")
    ap.add_argument("--cell-limit-s", type=float, default=15.0, help="a cell stops sending after this")
    ap.add_argument("--kills", type=int, default=3, help="model replicas killed, one after another")
    ap.add_argument("--settle-s", type=float, default=15.0, help="load before the first kill and after each")
    ap.add_argument("--kill-max-requests", type=int, default=6000, help="the kill phase sends no more")
    ap.add_argument("--kill-limit-s", type=float, default=900.0, help="the kill phase sends no longer")
    ap.add_argument("--skip-grid", action="store_true", help="only the kill phase")
    args = ap.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        work = Path(tmp)
        heads = fit_heads(work)
        texts = demo_texts()
        result = {"machine": machine(), "args": vars(args)}
        if not args.skip_grid:
            result["grid"] = grid(work, heads, texts, args)
        result["kill_replicas"] = kill_replicas(work, heads["default"], texts, args)
    result["seconds"] = round(time.perf_counter() - started, 1)
    write_json(args.out, result)
    print_result({k: v for k, v in result["kill_replicas"].items() if k != "metrics_scraped"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
