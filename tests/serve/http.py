"""A small HTTP client for the served heads (standard library only) and a free loopback port."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, method: str = "GET", body: bytes | None = None, timeout: float = 60) -> tuple[int, Any]:
    """(status, JSON body or text) of one request; an HTTP error status is an answer, not a raise."""
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def predict(url: str, texts: Any, **fields: Any) -> tuple[int, Any]:
    return call(f"{url}/predict", "POST", json.dumps({"texts": texts, **fields}).encode())


def wait_healthy(url: str, seconds: float = 120) -> None:
    """Until ``GET /healthz`` answers 200 (a server starting in another process), or fail."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if call(f"{url}/healthz", timeout=5)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not become healthy in {seconds} s")
        time.sleep(0.5)


def wait_for_line(process: subprocess.Popen, needle: str, seconds: float = 180) -> list[str]:
    """The lines a server printed up to the first holding ``needle``; fail if it exits or takes longer."""
    deadline, lines = time.monotonic() + seconds, []
    while time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 1)[0]:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if needle in line:
                return lines
    raise TimeoutError(f"no line with {needle!r} in {seconds} s; the server said:\n{''.join(lines)}")
