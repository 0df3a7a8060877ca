"""Read tweet dumps as they come: JSON lines or JSON arrays, plain, gzip or zstd, v1.1 or v2.

Each line may hold one tweet or a v2 response envelope (``{"data": [...], "includes": {...}}``); a
file may instead be one JSON array (or one envelope). Every record yields a :class:`Tweet`, or a
problem naming the file and line (the element number inside an array), so nothing is dropped
unannounced. Decompression is pyarrow's (gzip and zstd), so no extra dependency is needed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from neuronhead.tweets.records import RecordError, Tweet, parse_record

SUFFIXES = (".jsonl", ".json", ".ndjson")
COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.problem}"


def is_tweet_file(path: str) -> bool:
    name = path.lower()
    for ext in COMPRESSION:
        name = name.removesuffix(ext)
    return name.endswith(SUFFIXES)


def _open_binary(path: str) -> io.BufferedReader:
    codec = next((c for ext, c in COMPRESSION.items() if path.lower().endswith(ext)), None)
    return io.BufferedReader(pa.input_stream(path, compression=codec))


def _from_json(obj: Any, file: str, line: int) -> Iterator[Tweet | Problem]:
    """A tweet, an envelope or an array of either."""
    if isinstance(obj, list):
        for k, item in enumerate(obj, 1):
            for got in _from_json(item, file, line):
                yield got if isinstance(got, Tweet) else Problem(file, line, f"element {k}: {got.problem}")
        return
    if isinstance(obj, dict) and "data" in obj and "id" not in obj and "id_str" not in obj:
        includes = obj.get("includes") if isinstance(obj.get("includes"), dict) else {}
        included = {str(t.get("id")): t for t in includes.get("tweets") or [] if isinstance(t, dict)}
        data = obj["data"] if isinstance(obj["data"], list) else [obj["data"]]
        for k, item in enumerate(data, 1):
            try:
                yield parse_record(item, included)
            except RecordError as exc:
                yield Problem(file, line, f"data[{k}]: {exc}")
        return
    try:
        yield parse_record(obj)
    except RecordError as exc:
        yield Problem(file, line, str(exc))


def read_tweets(path: str, from_line: int = 1) -> Iterator[tuple[int, Tweet | Problem]]:
    """``(line, tweet or problem)`` for every record of one file, in file order.

    A line that is not UTF-8 or not JSON is one problem; the lines after it are still read. Lines
    (array elements) before ``from_line`` are passed over without being parsed.
    """
    try:
        f = _open_binary(path)
        head = f.peek(64).lstrip()
    except (OSError, pa.ArrowInvalid) as exc:
        yield 1, Problem(path, 1, f"cannot read: {exc}")
        return
    with f:
        if head[:1] == b"[":  # one JSON array for the whole file: element k counts as line k
            try:
                obj = json.loads(f.read().decode("utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError, OSError, pa.ArrowInvalid) as exc:
                yield 1, Problem(path, 1, f"broken JSON array: {exc}")
                return
            for k, item in enumerate(obj, 1):
                if k < from_line:
                    continue
                for got in _from_json(item, path, k):
                    yield k, got
            return
        try:
            for n, raw in enumerate(f, 1):
                if n < from_line or not raw.strip():
                    continue
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    yield n, Problem(path, n, "line is not valid UTF-8")
                    continue
                except json.JSONDecodeError as exc:
                    yield n, Problem(path, n, f"broken JSON: {exc.msg} at column {exc.colno}")
                    continue
                for got in _from_json(obj, path, n):
                    yield n, got
        except (OSError, pa.ArrowInvalid) as exc:  # a truncated or corrupt compressed stream
            yield n + 1 if "n" in locals() else 1, Problem(path, 0, f"cannot decompress: {exc}")
