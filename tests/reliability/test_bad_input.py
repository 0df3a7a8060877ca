"""Bad input: every case ends in a clear error naming file and line, or in rows that carry a reason.

Scoring never drops a row: rows in = rows out, each with a prediction or an ``error``. Training data
with a bad label stops with ``file:line: problem`` (or, with ``--on-bad-row skip``, lists the row).
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuronhead.cli import main
from neuronhead.data import DataError
from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Capture, Engine, Output, Reading
from neuronhead.pipelines.scoring import score

LONG = "word " * 20000
# name, file suffix, bytes, expected: {"rows": n, "errors": {id: substring}} or {"fails": substring}
CASES = [
    ("empty text", "csv", b"id,text\na,\nb,fine\n", {"rows": 2, "errors": {"a": "empty text"}}),
    (
        "whitespace-only text",
        "csv",
        b'id,text\na,"  \t "\nb,ok\n',
        {"rows": 2, "errors": {"a": "empty text"}},
    ),
    ("100k-character text (truncated)", "csv", f"id,text\nlong,{LONG}\n".encode(), {"rows": 1, "errors": {}}),
    ("invalid UTF-8", "csv", b"id,text\na,ok\nb,bad \xff\xfe\n", {"rows": 2, "errors": {None: ":3: "}}),
    ("NUL byte inside text", "csv", b"id,text\na,nul \x00 here\n", {"rows": 1, "errors": {}}),
    (
        "lone surrogate",
        "jsonl",
        b'{"id": "a", "text": "x \\ud800 y"}\n{"id": "b", "text": "ok"}\n',
        {"rows": 2, "errors": {None: "surrogate"}},
    ),
    (
        "emoji and ZWJ sequences",
        "csv",
        (
            "id,text\na,family \U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f3f3\ufe0f\u200d\U0001f308\n"
        ).encode(),
        {"rows": 1, "errors": {}},
    ),
    (
        "right-to-left scripts",
        "csv",
        "id,text\nhe,שלום עולם\nar,مرحبا بالعالم\n".encode(),
        {"rows": 2, "errors": {}},
    ),
    ("extra field in a row", "csv", b"id,text\na,one,two\nb,ok\n", {"rows": 2, "errors": {None: "fields"}}),
    ("extra columns (ignored)", "csv", b"id,text,lang,likes\na,hello,en,3\n", {"rows": 1, "errors": {}}),
    (
        "wrong type: number as text",
        "jsonl",
        b'{"id": "a", "text": 12}\n{"id": "b", "text": "ok"}\n',
        {"rows": 2, "errors": {None: "must be a string"}},
    ),
    ("null text", "jsonl", b'{"id": "a", "text": null}\n', {"rows": 1, "errors": {"a": "empty text"}}),
    (
        "broken JSON line",
        "jsonl",
        b'{"id": "a", "text": "ok"}\n{"id": "b", "te\n',
        {"rows": 2, "errors": {None: ":2:"}},
    ),
    (
        "duplicate ids",
        "csv",
        b"id,text\nd,one\nd,two\ne,three\n",
        {"rows": 3, "errors": {}, "warn": "repeat an id"},
    ),
    ("empty file", "csv", b"", {"rows": 0, "errors": {}, "warn": "empty file"}),
    ("header only", "csv", b"id,text\n", {"rows": 0, "errors": {}, "warn": "empty file"}),
    (
        "missing text column",
        "csv",
        b"id,txt\n1,a\n",
        {"fails": "no 'text' column; columns found: ['id', 'txt']"},
    ),
    ("truncated Parquet file", "parquet", None, {"fails": "not a readable Parquet file"}),
]


def _parquet_half(tmp_path) -> bytes:
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["x", "y"]}), tmp_path / "whole.parquet")
    whole = (tmp_path / "whole.parquet").read_bytes()
    return whole[: len(whole) // 2]


@pytest.mark.parametrize("name,suffix,content,want", CASES, ids=[c[0] for c in CASES])
def test_scoring_bad_input(name, suffix, content, want, small_head, tmp_path, capsys, record):
    data = tmp_path / f"input.{suffix}"
    data.write_bytes(_parquet_half(tmp_path) if content is None else content)
    out = tmp_path / "out"
    rc = main(
        ["score", "--head", str(small_head), "--data", str(data), "--out", str(out), "--engine", "local"]
    )
    printed = capsys.readouterr()
    if "fails" in want:
        assert rc == 2
        line = printed.err.strip().splitlines()[-1]
        assert str(data) in line and want["fails"] in line  # one line, naming the file and the problem
        assert not list((out / "shards").glob("*.parquet")) if out.exists() else True
        record("bad input", name, f"refused before any work: `{line.split('error: ', 1)[1]}`")
        return
    assert rc == 0, printed.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows_in"] == summary["rows_out"] == want["rows"]
    table = pq.read_table(out / "shards").to_pylist() if want["rows"] else []
    assert sorted(r["row"] for r in table) == list(range(want["rows"]))  # every row exactly once
    errors = {r["id"]: r["error"] for r in table if r["error"]}
    assert len(errors) == len(want["errors"]) == summary["errors"]
    for key, part in want["errors"].items():
        assert part in errors[key], errors
        if key is None:  # a row the reader could not parse: the reason names the file and line
            assert str(data) in errors[key]
    for r in table:
        assert (r["head_label"] is None) == (r["error"] is not None)  # a prediction or a reason
    if "long" in {r["id"] for r in table}:
        assert table[0]["truncated"] is True
    if "warn" in want:
        assert want["warn"] in printed.out
    outcome = "all scored" if not errors else "; ".join(f"`{e}`" for e in errors.values())
    if "long" in {r["id"] for r in table}:
        outcome += " (marked truncated)"
    if "warn" in want:
        outcome += f" (warning: {want['warn']})"
    record("bad input", name, outcome, summary["rows_in"], summary["rows_out"])


LABEL_CASES = [
    ("label NaN", b"id,text,label\n1,a,negative\n2,b,nan\n3,c,positive\n", ":3: "),
    ("label missing", b"id,text,label\n1,a,negative\n2,b,\n3,c,positive\n", ":3: missing label"),
    ("label not in the mapping", b"id,text,label\n1,a,negative\n2,b,weird\n3,c,positive\n", "weird"),
]


@pytest.mark.parametrize("name,content,part", LABEL_CASES, ids=[c[0] for c in LABEL_CASES])
def test_training_labels(name, content, part, tmp_path, record):
    data = tmp_path / "train.csv"
    data.write_bytes(content)
    names = ["negative", "positive"]
    with pytest.raises(DataError, match=part) as err:
        extract(
            data,
            tmp_path / "f",
            capture=Capture(layers="0"),
            reading=Reading(label_names=names),
            engine=Engine("local"),
            output=Output(progress=False),
        )
    assert str(data) in str(err.value)
    m = extract(
        data,
        tmp_path / "g",
        capture=Capture(layers="0"),
        reading=Reading(label_names=names, on_bad_row="skip"),
        engine=Engine("local"),
        output=Output(progress=False),
    )
    listed = [json.loads(x) for x in (tmp_path / "g" / "bad_rows.jsonl").read_text().splitlines()]
    assert m.rows_in == 3 and m.rows == 2 and m.bad_rows == len(listed) == 1
    record(
        "bad input",
        f"training data: {name}",
        f"stops with `{str(err.value).replace(str(tmp_path) + '/', '')}`; "
        "with `--on-bad-row skip` the row is listed in bad_rows.jsonl",
        3,
        2,
    )


texts = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(texts, min_size=1, max_size=12), as_csv=st.booleans())
def test_any_text_comes_out_once_with_a_label_or_a_reason(batch, as_csv, small_head, tmp_path_factory):
    """Arbitrary Unicode (surrogates, controls, NULs, newlines, RTL marks) in JSONL or CSV."""
    import csv

    folder = tmp_path_factory.mktemp("prop")
    if as_csv:
        data = folder / "in.csv"
        with open(data, "w", newline="", encoding="utf-8", errors="surrogateescape") as f:
            w = csv.writer(f)
            w.writerow(["id", "text"])
            for i, t in enumerate(batch):
                w.writerow([f"r{i}", t.encode("utf-8", "surrogatepass").decode("utf-8", "replace")])
    else:
        data = folder / "in.jsonl"
        data.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(batch)))
    result = score(
        [str(small_head)], data, folder / "out", engine=Engine("local"), output=Output(progress=False)
    )
    table = pq.read_table(folder / "out" / "shards").to_pylist()
    assert result["rows_in"] == result["rows_out"] == len(table)
    assert sorted(r["row"] for r in table) == list(range(len(table)))
    ids = sorted(r["id"] for r in table if r["id"] is not None)
    assert len(ids) == len(set(ids))  # no row twice
    assert len(table) == len(batch)  # one output row per record, quoted newlines included
    for r in table:
        assert (r["head_label"] is None) != (r["error"] is None), r
