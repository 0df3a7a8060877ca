"""A small HTTP client for the served heads (standard library only) and a free loopback port."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(
    url: str, method: str = "GET", body: bytes | None = None, timeout: float = 60, headers: dict | None = None
) -> tuple[int, Any]:
    """(status, JSON body or text) of one request; an HTTP error status is an answer, not a raise."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
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


class Output:
    """A child process's output lines, read by a thread as they come: a ``select`` on the pipe would
    miss lines that a buffered read had already taken in."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, needle: str, seconds: float = 180) -> None:
        """Until a line holds ``needle``; fail if the output ends or it takes longer."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if needle in line:
                return
        raise TimeoutError(f"no line with {needle!r} in {seconds} s; the server said:\n{self.text()}")

    def text(self) -> str:
        """Everything printed (all of it once the process has ended and its pipe closed)."""
        self.reader.join(timeout=10)
        while not self.lines.empty():
            line = self.lines.get()
            if line is not None:
                self.seen.append(line)
        return "".join(self.seen)
