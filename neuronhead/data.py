"""Every input format becomes one row stream: ``id``, ``text`` (stripped), optional ``label``.

All validation and bad-row reporting lives here, once. A first pass (:func:`plan_source`) reads
everything, checks it, fixes the label mapping and counts rows; later reads
(:func:`read_rows`) return exactly the rows that pass kept, by position, so shards are stable across
runs and can be resumed.

Formats: CSV, JSON lines, Parquet (a file, a folder or a glob), a TweetEval task folder
(``{split}_text.txt``, ``{split}_labels.txt``, ``mapping.txt``), a Hugging Face ``save_to_disk``
folder, ``hf:NAME[:CONFIG]`` from the hub when online, or a Twitter/X API dump (``tweets``: v1.1 or
v2 records as JSON lines or arrays, plain, gzip or zstd), whose rows carry the tweets' metadata.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from neuronhead.tweets.columns import tweet_meta
from neuronhead.tweets.normalize import tweeteval_normalize
from neuronhead.tweets.options import DUPLICATE, TweetOptions, filter_kind
from neuronhead.tweets.reader import Problem, is_tweet_file, read_tweets

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
KINDS = ("csv", "jsonl", "parquet", "tweets")  # what --format can force
NORMALIZE = ("none", "tweeteval")
# Fields only Twitter/X API records have: a JSON lines file whose first record has one is a dump.
_TWEET_KEYS = {"id_str", "full_text", "extended_tweet", "retweeted_status", "author_id", "note_tweet",
               "referenced_tweets", "in_reply_to_status_id_str"}  # fmt: skip


class DataError(ValueError):
    """Bad input, with where it is: the message names the file and row or line."""


@dataclass(frozen=True)
class BadRow:
    file: str
    line: int  # 1-based line (text formats) or row (Parquet, datasets)
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.problem}"


@dataclass(frozen=True)
class Row:
    line: int
    id: str | None
    text: str
    label: Any  # raw label as found, None when absent
    meta: dict[str, Any] | None = None  # a tweet's metadata (tweets sources only)
    skip: str | None = None  # why this row is not run through the model (``filtered: …``)


@dataclass(frozen=True)
class Columns:
    """Which columns hold the text, the row id and the label (CSV, JSONL, Parquet and datasets)."""

    text: str = "text"
    id: str = "id"
    label: str = "label"


@dataclass
class Source:
    """A resolved input: its kind, its files and how to read columns. Small and picklable."""

    kind: str  # csv | jsonl | parquet | tweeteval | hf_disk | hf_hub | tweets
    files: list[str]
    split: str | None = None
    text_column: str = "text"
    id_column: str = "id"
    label_column: str = "label"
    label_names: list[str] | None = None  # given by the source (mapping.txt, ClassLabel) or the user
    normalize: str = "none"  # applied to every text as it is read: none | tweeteval
    tweets: TweetOptions | None = None  # which tweets to run (tweets sources only)

    def describe(self) -> str:
        return f"{self.kind}:{self.files[0]}" + (
            f" (+{len(self.files) - 1} files)" if len(self.files) > 1 else ""
        )


@dataclass
class FilePlan:
    """What the planning pass learned about one file: good rows, and the lines to skip."""

    path: str
    n_rows: int
    bad_positions: list[int] = field(default_factory=list)  # reader items (0-based) that are bad rows
    duplicate_positions: list[int] = field(default_factory=list)  # tweets filtered by --dedupe
    # (good rows before, reader position, line) at the first item of a line, every ~1024 good rows:
    # a shard starts reading there instead of parsing the file from its top (line formats only).
    checkpoints: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class SourcePlan:
    source: Source
    files: list[FilePlan]
    has_labels: bool
    label_kind: str | None  # "class" | "value" | None
    label_names: list[str] | None
    bad_rows: list[BadRow]
    duplicate_ids: int = 0  # rows whose id an earlier row already had (all are kept and processed)
    empty_files: list[str] = field(default_factory=list)  # files with no rows at all
    filtered: dict[str, int] = field(default_factory=dict)  # rows kept out of the model, by what filtered

    @property
    def n_rows(self) -> int:
        return sum(f.n_rows for f in self.files)


# ---------------------------------------------------------------- resolving what the user named


def _tweeteval_files(folder: Path, split: str) -> list[str]:
    text = folder / f"{split}_text.txt"
    if not text.exists():
        found = sorted(p.name for p in folder.glob("*_text.txt"))
        raise DataError(f"{folder}: no {split}_text.txt for split {split!r} (splits here: {found})")
    labels = folder / f"{split}_labels.txt"
    return [str(text)] + ([str(labels)] if labels.exists() else [])


def _read_mapping(path: Path) -> list[str]:
    names: dict[int, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].strip().lstrip("-").isdigit():
            raise DataError(f"{path}:{n}: expected 'id<TAB>name', got {line!r}")
        names[int(parts[0])] = parts[1].strip()
    if sorted(names) != list(range(len(names))):
        raise DataError(f"{path}: label ids must be 0..{len(names) - 1}, got {sorted(names)}")
    return [names[i] for i in range(len(names))]


def _first_record(path: str) -> Any:
    """The first JSON value of a JSON lines file, or the first element of a JSON array (else None)."""
    try:
        with open(path, "rb") as fh:
            text = fh.read(1 << 20).decode("utf-8", errors="replace").lstrip()
    except OSError:
        return None
    if text.startswith("["):  # an array: decode its first element only
        try:
            return json.JSONDecoder().raw_decode(text[1:].lstrip())[0]
        except json.JSONDecodeError:
            return None
    try:
        return json.loads(text.split("\n", 1)[0])
    except json.JSONDecodeError:
        return None


def looks_like_tweets(path: str) -> bool:
    """A Twitter/X API dump: compressed JSON, or a first record with fields only the API writes."""
    if not is_tweet_file(path):
        return False
    if not path.lower().endswith(tuple(FORMATS)):
        return True  # .json.gz / .jsonl.zst: only dumps are read compressed
    record = _first_record(path)
    if isinstance(record, dict) and isinstance(record.get("data"), dict | list):
        return True  # a v2 response envelope
    return isinstance(record, dict) and bool(_TWEET_KEYS & set(record))


def _file_kind(path: str) -> str | None:
    return FORMATS.get(Path(path).suffix.lower()) or ("tweets" if is_tweet_file(path) else None)


def resolve_source(
    data: str | os.PathLike,
    *,
    split: str | None = None,
    columns: Columns = Columns(),
    label_names: list[str] | None = None,
    format: str = "auto",
    normalize: str = "none",
    tweets: TweetOptions | None = None,
) -> Source:
    """Turn a path, folder, glob or ``hf:`` name into a :class:`Source` (nothing is read yet).

    ``format`` forces a kind (``csv``, ``jsonl``, ``parquet``, ``tweets``); ``auto`` goes by suffix,
    and reads JSON files as a tweet dump when their first record is a Twitter/X API record.
    """
    if format != "auto" and format not in KINDS:
        raise DataError(f"--format must be auto or one of {', '.join(KINDS)}, not {format!r}")
    if normalize not in NORMALIZE:
        raise DataError(f"--normalize must be one of {', '.join(NORMALIZE)}, not {normalize!r}")
    cols = {"text_column": columns.text, "id_column": columns.id, "label_column": columns.label}
    extra = {"label_names": label_names, "normalize": normalize}
    spec = str(data)
    if spec.startswith("hf:"):
        src = Source("hf_hub", [spec[3:]], split=split or "train", **extra, **cols)
        return _with_tweet_options(src, tweets)
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            return _with_tweet_options(Source("hf_disk", [str(path)], split=split, **extra, **cols), tweets)
        if list(path.glob("*_text.txt")):
            split = split or "train"
            mapping = path / "mapping.txt"
            extra["label_names"] = label_names or (_read_mapping(mapping) if mapping.exists() else None)
            src = Source("tweeteval", _tweeteval_files(path, split), split=split, **extra, **cols)
            return _with_tweet_options(src, tweets)
        files = sorted(str(p) for p in path.rglob("*") if p.is_file() and _file_kind(str(p)))
        if not files:
            raise DataError(
                f"{path}: no {', '.join(sorted(FORMATS))} files (or compressed tweet dumps), "
                "TweetEval split or saved dataset"
            )
    elif path.is_file():
        files = [str(path)]
    else:
        files = sorted(glob.glob(spec, recursive=True))
        if not files:
            raise DataError(f"{spec}: no such file, folder or glob match")
    for f in files:
        if _file_kind(f) is None:
            raise DataError(
                f"{f}: unknown format (expected one of {', '.join(sorted(FORMATS))}, "
                "or a .json/.jsonl tweet dump compressed as .gz or .zst)"
            )
    if format == "tweets":
        kind = "tweets"
        bad = next((f for f in files if not is_tweet_file(f)), None)
        if bad:
            raise DataError(f"{bad}: a tweet dump must be .json, .jsonl or .ndjson (optionally .gz/.zst)")
    elif format != "auto":
        kind = format
    else:
        kinds = {"tweets" if looks_like_tweets(f) else _file_kind(f) for f in files}
        if len(kinds) > 1:
            raise DataError(f"{spec}: mixes formats {sorted(kinds)}; point at one format at a time")
        kind = kinds.pop()
    return _with_tweet_options(Source(kind, files, split=split, **extra, **cols), tweets)


def _with_tweet_options(src: Source, tweets: TweetOptions | None) -> Source:
    if tweets is not None and tweets.active:
        if src.kind != "tweets":
            raise DataError(
                f"{src.describe()}: --retweets, --dedupe and --lang need a Twitter/X API dump "
                f"(this input reads as {src.kind}; --format tweets forces it)"
            )
        src.tweets = tweets
    return src


# ---------------------------------------------------------------- raw rows per format


def _check_text(file: str, line: int, value: Any) -> str | BadRow:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if not isinstance(value, str):
        return BadRow(file, line, f"text must be a string, got {type(value).__name__} {value!r:.40}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return BadRow(file, line, "text is not valid UTF-8 (undecodable bytes or a lone surrogate)")
    return value.strip()


def _row_from_record(src: Source, file: str, line: int, record: Any) -> Row | BadRow:
    if not isinstance(record, dict):
        return BadRow(
            file, line, f"expected an object with a {src.text_column!r} field, got {type(record).__name__}"
        )
    if src.text_column not in record:
        return BadRow(file, line, f"no {src.text_column!r} column; columns found: {sorted(record)}")
    text = _check_text(file, line, record[src.text_column])
    if isinstance(text, BadRow):
        return text
    rid = record.get(src.id_column)
    return Row(line, None if rid is None else str(rid), text, record.get(src.label_column))


def _decode_lines(path: str, from_line: int = 1) -> Iterator[tuple[int, str | None]]:
    """(line number, text or None when the line is not valid UTF-8), from line ``from_line`` on."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if n < from_line:
                continue
            try:
                yield n, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                yield n, None


def _jsonl_rows(src: Source, path: str, from_line: int = 1) -> Iterator[Row | BadRow]:
    for n, line in _decode_lines(path, from_line):
        if line is None:
            yield BadRow(path, n, "line is not valid UTF-8")
            continue
        if not line.strip():
            continue  # a blank line carries no record
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadRow(path, n, f"broken JSON: {exc.msg} at column {exc.colno}")
            continue
        yield _row_from_record(src, path, n, record)


def _csv_rows(src: Source, path: str) -> Iterator[Row | BadRow]:
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return
        header = [h.strip().lstrip("\ufeff") for h in header]
        if src.text_column not in header:
            raise DataError(f"{path}: no {src.text_column!r} column; columns found: {header}")
        start = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield BadRow(path, start, f"broken CSV: {exc}")
                start = reader.line_num + 1
                continue
            line, start = start, reader.line_num + 1
            if not values:
                continue
            if len(values) != len(header):
                yield BadRow(path, line, f"{len(values)} fields, the header has {len(header)}")
                continue
            record = dict(zip(header, values, strict=True))
            if any("\udc80" <= ch <= "\udcff" for ch in record[src.text_column]):
                yield BadRow(path, line, "line is not valid UTF-8")
                continue
            if record.get(src.label_column) == "":
                record[src.label_column] = None
            yield _row_from_record(src, path, line, record)


def _parquet_rows(src: Source, path: str) -> Iterator[Row | BadRow]:
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
    names = pf.schema_arrow.names
    if src.text_column not in names:
        raise DataError(f"{path}: no {src.text_column!r} column; columns found: {names}")
    columns = [c for c in (src.text_column, src.id_column, src.label_column) if c in names]
    n = 0
    try:
        for batch in pf.iter_batches(columns=columns, batch_size=8192):
            for record in batch.to_pylist():
                n += 1
                yield _row_from_record(src, path, n, record)
    except OSError as exc:
        raise DataError(f"{path}: Parquet file is damaged after row {n} ({exc})") from exc


def _tweeteval_rows(src: Source, path: str) -> Iterator[Row | BadRow]:
    labels_path = src.files[1] if len(src.files) > 1 else None
    labels = _decode_lines(labels_path) if labels_path else None
    for n, line in _decode_lines(path):
        label = None
        if labels is not None:
            got = next(labels, None)
            if got is None:
                raise DataError(f"{labels_path}: ends at line {n - 1}, but {path} goes on")
            label = got[1].strip() if got[1] is not None else None
        if line is None:
            yield BadRow(path, n, "line is not valid UTF-8")
            continue
        yield Row(n, None, line.strip(), label)
    if labels is not None and next(labels, None) is not None:
        raise DataError(f"{labels_path}: has more lines than {path}")


def _hf_dataset(src: Source):
    import datasets

    if src.kind == "hf_disk":
        ds = datasets.load_from_disk(src.files[0])
        if isinstance(ds, datasets.DatasetDict):
            split = src.split or "train"
            if split not in ds:
                raise DataError(f"{src.files[0]}: no split {split!r} (splits: {sorted(ds)})")
            ds = ds[split]
    else:
        name, _, config = src.files[0].partition(":")
        ds = datasets.load_dataset(name, config or None, split=src.split)
    return ds


def _hf_rows(src: Source, path: str) -> Iterator[Row | BadRow]:
    ds = _hf_dataset(src)
    if src.text_column not in ds.column_names:
        raise DataError(f"{path}: no {src.text_column!r} column; columns found: {ds.column_names}")
    columns = [c for c in (src.text_column, src.id_column, src.label_column) if c in ds.column_names]
    n = 0
    for batch in ds.select_columns(columns).data.to_batches(max_chunksize=8192):
        for record in batch.to_pylist():
            n += 1
            yield _row_from_record(src, path, n, record)


def _tweet_rows(src: Source, path: str, from_line: int = 1) -> Iterator[Row | BadRow]:
    """Rows of a tweet dump: the chosen text, the tweet's metadata and, when filtered, why."""
    for line, item in read_tweets(path, from_line):
        if isinstance(item, Problem):
            yield BadRow(path, item.line or line, item.problem)
            continue
        text = _check_text(path, line, item.text)
        if isinstance(text, BadRow):
            yield text
            continue
        skip = src.tweets.skip_reason(item) if src.tweets else None
        yield Row(line, item.id, text, None, tweet_meta(item), skip)


# Readers that can start at a line without parsing the ones before it (see FilePlan.checkpoints).
SEEKABLE = {"jsonl", "tweets"}
CHECKPOINT_EVERY = 1024  # good rows between checkpoints

_READERS = {
    "csv": _csv_rows,
    "jsonl": _jsonl_rows,
    "parquet": _parquet_rows,
    "tweeteval": _tweeteval_rows,
    "hf_disk": _hf_rows,
    "hf_hub": _hf_rows,
    "tweets": _tweet_rows,
}


def _data_files(src: Source) -> list[str]:
    return src.files[:1] if src.kind in ("tweeteval", "hf_disk", "hf_hub") else src.files


def _hf_label_names(src: Source) -> list[str] | None:
    if src.kind not in ("hf_disk", "hf_hub"):
        return None
    feature = _hf_dataset(src).features.get(src.label_column)
    return list(feature.names) if hasattr(feature, "names") else None


# ---------------------------------------------------------------- labels


def _parse_number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            return None
    return None


def encode_label(raw: Any, kind: str, names: list[str] | None) -> int | float | str:
    """The stored label: a class id or a value; a ``str`` is the problem when it cannot be encoded."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return "missing label"
    if kind == "value":
        value = _parse_number(raw)
        return "label is not a number: " + repr(raw) if value is None or math.isnan(value) else value
    assert names is not None
    text = str(raw).strip()
    if text in names:
        return names.index(text)
    number = _parse_number(raw)
    if number is not None and number.is_integer() and 0 <= number < len(names):
        return int(number)
    return f"label {raw!r} is not in the label mapping {names}"


def _infer_labels(raw_labels: list[Any]) -> tuple[str, list[str] | None]:
    numbers = [_parse_number(x) for x in raw_labels]
    if numbers and all(v is not None for v in numbers):
        if all(v.is_integer() for v in numbers):  # class ids 0..K-1
            top = int(max(numbers))
            return "class", [str(i) for i in range(top + 1)]
        return "value", None
    return "class", sorted({str(x).strip() for x in raw_labels})


# ---------------------------------------------------------------- plan and read


def plan_source(src: Source, *, on_bad_row: str = "error", label_kind: str = "auto") -> SourcePlan:
    """One validating pass: count good rows per file, fix the label mapping, collect bad rows.

    With ``on_bad_row="error"`` the first bad row raises :class:`DataError` naming file and line;
    with ``"skip"`` bad rows are collected (and reported by the caller), never silently lost.
    """
    if on_bad_row not in ("error", "skip"):
        raise ValueError(f"on_bad_row must be 'error' or 'skip', not {on_bad_row!r}")
    names = src.label_names or _hf_label_names(src)
    files: list[FilePlan] = []
    bad: list[BadRow] = []
    raw_labels: list[Any] = []
    has_labels = False
    rows_by_position: list[list[tuple[int, int, Any, bool]]] = []
    id_hashes: list[int] = []
    seen: set[str] | None = set() if src.tweets is not None and src.tweets.dedupe else None
    filtered: dict[str, int] = {}
    for path in _data_files(src):
        plan = FilePlan(path, 0)
        labelled: list[tuple[int, int, Any, bool]] = []  # (reader position, line, raw label, opens line)
        last_line = None
        for pos, item in enumerate(_READERS[src.kind](src, path)):
            opens_line, last_line = item.line != last_line, item.line
            if isinstance(item, BadRow):
                if on_bad_row == "error":
                    raise DataError(str(item))
                bad.append(item)
                plan.bad_positions.append(pos)
                continue
            plan.n_rows += 1
            skip = item.skip
            if item.id is not None:
                id_hashes.append(hash(item.id))
                if seen is not None:
                    if item.id in seen:
                        plan.duplicate_positions.append(pos)
                        skip = skip or DUPLICATE
                    seen.add(item.id)
            if skip:
                filtered[filter_kind(skip)] = filtered.get(filter_kind(skip), 0) + 1
            if item.label is not None:
                has_labels = True
            labelled.append((pos, item.line, item.label, opens_line))
        files.append(plan)
        rows_by_position.append(labelled)
        raw_labels.extend(label for _, _, label, _ in labelled if label is not None)
    kind = None
    if has_labels:
        if label_kind == "auto":
            kind, inferred = ("class", names) if names else _infer_labels(raw_labels)
            names = names or inferred
        else:
            kind = label_kind
            if kind == "class" and not names:  # forced classes: numbers that look like values too
                names = _infer_labels(raw_labels)[1] or sorted({str(x).strip() for x in raw_labels})
        for plan, labelled in zip(files, rows_by_position, strict=True):  # every label must encode
            for pos, line, raw, _ in labelled:
                code = encode_label(raw, kind, names)
                if isinstance(code, str):
                    problem = BadRow(plan.path, line, code)
                    if on_bad_row == "error":
                        raise DataError(str(problem))
                    bad.append(problem)
                    plan.bad_positions.append(pos)
                    plan.n_rows -= 1
    for plan, labelled in zip(files, rows_by_position, strict=True):
        plan.bad_positions.sort()
        if src.kind in SEEKABLE:
            plan.checkpoints = _checkpoints(labelled, set(plan.bad_positions))
    hashes = np.asarray(id_hashes, dtype=np.int64)
    duplicates = int(len(hashes) - len(np.unique(hashes)))
    empty = [f.path for f in files if f.n_rows == 0 and not f.bad_positions]
    return SourcePlan(
        src, files, has_labels, kind, names if kind == "class" else None, bad, duplicates, empty, filtered
    )


def _checkpoints(rows: list[tuple[int, int, Any, bool]], bad: set[int]) -> list[tuple[int, int, int]]:
    """Every ~CHECKPOINT_EVERY good rows, the next good row that is the first item of its line."""
    out: list[tuple[int, int, int]] = []
    index, due = 0, CHECKPOINT_EVERY
    for pos, line, _, opens_line in rows:
        if pos in bad:
            continue
        if index >= due and opens_line:
            out.append((index, pos, line))
            due = index + CHECKPOINT_EVERY
        index += 1
    return out


def input_warnings(plan: SourcePlan) -> list[str]:
    """What a job should tell its user about the input before running (rows are never dropped)."""
    out = []
    if plan.duplicate_ids and plan.source.tweets is not None and plan.source.tweets.dedupe:
        out.append(f"{plan.duplicate_ids} rows repeat a tweet id of an earlier row; --dedupe filters them")
    elif plan.duplicate_ids:
        out.append(
            f"{plan.duplicate_ids} rows repeat an id of an earlier row; every row is kept (tell them "
            "apart by the `row` column)"
        )
    for path in plan.empty_files:
        out.append(f"{path}: empty file, no rows")
    return out


def read_rows(plan: SourcePlan, file_index: int, start: int, count: int) -> list[Row]:
    """Good rows ``start .. start+count`` of one file, skipping exactly the items the plan rejected.

    Texts come back normalised as the source asks, and rows ``--dedupe`` filtered carry their reason.
    """
    fplan = plan.files[file_index]
    skip = set(fplan.bad_positions)
    duplicates = set(fplan.duplicate_positions)
    normalize = tweeteval_normalize if plan.source.normalize == "tweeteval" else None
    out: list[Row] = []
    good, first, line = max(((g, p, n) for g, p, n in fplan.checkpoints if g <= start), default=(0, 0, 1))
    reader = _READERS[plan.source.kind]
    items = reader(plan.source, fplan.path, line) if line > 1 else reader(plan.source, fplan.path)
    for pos, item in enumerate(items, first):
        if pos in skip:
            continue
        if isinstance(item, BadRow):
            raise DataError(f"{item} (the file changed since it was planned)")
        if good >= start:
            if pos in duplicates and item.skip is None:
                item = replace(item, skip=DUPLICATE)
            if normalize is not None:
                item = replace(item, text=normalize(item.text))
            out.append(item)
            if len(out) == count:
                break
        good += 1
    if len(out) != count:
        raise DataError(
            f"{fplan.path}: expected {count} rows from row {start}, found {len(out)}; file changed?"
        )
    return out


def label_ids(plan: SourcePlan, rows: list[Row]) -> list[Any]:
    """Encoded labels for rows that passed planning (so they always encode)."""
    if not plan.has_labels:
        return [None] * len(rows)
    return [encode_label(r.label, plan.label_kind, plan.label_names) for r in rows]


def write_bad_rows(bad: list[BadRow], path: Path) -> None:
    """Bad rows as JSON lines (file, line, problem) so a skipped row is never silently lost."""
    buf = io.StringIO()
    for row in bad:
        buf.write(json.dumps({"file": row.file, "line": row.line, "problem": row.problem}) + "\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)
