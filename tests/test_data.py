"""Every input format gives the same rows; bad input gets an error naming file and line."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neuronhead.data import Columns, DataError, plan_source, read_rows, resolve_source

ROWS = [
    {"id": "a", "text": "  good morning  ", "label": "positive"},
    {"id": "b", "text": "the bus is late again", "label": "negative"},
    {"id": "c", "text": "meeting at noon", "label": "neutral"},
]


def _write(fmt: str, folder, rows=ROWS, name="data"):
    path = folder / f"{name}.{fmt}"
    if fmt == "csv":
        import csv

        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _all_rows(src, **kw):
    plan = plan_source(src, **kw)
    rows = [r for i, f in enumerate(plan.files) for r in read_rows(plan, i, 0, f.n_rows)]
    return plan, rows


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_formats_give_one_schema_with_stripped_text(tmp_path, fmt):
    plan, rows = _all_rows(resolve_source(_write(fmt, tmp_path)))
    assert [(r.id, r.text) for r in rows] == [
        ("a", "good morning"),
        ("b", "the bus is late again"),
        ("c", "meeting at noon"),
    ]
    assert plan.label_kind == "class" and plan.label_names == ["negative", "neutral", "positive"]


def test_folder_and_glob_read_every_file_in_order(tmp_path):
    _write("jsonl", tmp_path, ROWS[:2], "part-1")
    _write("jsonl", tmp_path, ROWS[2:], "part-2")
    for spec in (tmp_path, f"{tmp_path}/part-*.jsonl"):
        plan, rows = _all_rows(resolve_source(spec))
        assert [r.id for r in rows] == ["a", "b", "c"] and len(plan.files) == 2


def test_mixed_formats_in_a_folder_are_refused(tmp_path):
    _write("jsonl", tmp_path)
    _write("csv", tmp_path)
    with pytest.raises(DataError, match="mixes formats"):
        resolve_source(tmp_path)


def _tweeteval(folder, splits: dict[str, list[tuple[str, int]]], names=("negative", "neutral", "positive")):
    """A TweetEval task folder as the benchmark ships it: one tweet per line, a trailing space on each."""
    folder.mkdir()
    (folder / "mapping.txt").write_text("".join(f"{i}\t{n}\n" for i, n in enumerate(names)))
    for split, rows in splits.items():
        (folder / f"{split}_text.txt").write_text("".join(f"{t} \n" for t, _ in rows), encoding="utf-8")
        (folder / f"{split}_labels.txt").write_text("".join(f"{y}\n" for _, y in rows))
    return folder


TWEETS = [
    ("@user the new phone is out on Friday", 1),
    ('"National hot dog day, then national dance day... Sounds like a Friday night."', 2),
    ("  worst service ever, never again  ", 0),
    ("Dark Souls 3 launch date confirmed: embrace the darkness. http", 1),
    ("so happy for you!! #blessed", 2),
    ("why is the bus always late", 0),
]


def test_tweeteval_folder_split_mapping_and_strip(tmp_path):
    folder = _tweeteval(tmp_path / "sentiment", {"train": TWEETS[:2], "val": TWEETS})
    plan = plan_source(resolve_source(folder, split="val"))
    assert plan.n_rows == 6 and plan.label_names == ["negative", "neutral", "positive"]
    rows = read_rows(plan, 0, 0, 6)
    assert [r.text for r in rows] == [t.strip() for t, _ in TWEETS]
    assert [r.label for r in rows] == [str(y) for _, y in TWEETS]


def test_tweeteval_whitespace_only_tweets_stay_as_empty_rows(tmp_path):
    tweets, blanks = [(t, y % 2) for t, y in TWEETS], [("", 0), ("   ", 1), ("\t", 0)]
    folder = _tweeteval(tmp_path / "hate", {"train": tweets[:3] + blanks + tweets[3:]}, ("not-hate", "hate"))
    plan = plan_source(resolve_source(folder, split="train"))
    rows = read_rows(plan, 0, 0, plan.files[0].n_rows)
    assert plan.n_rows == 9 and [i for i, r in enumerate(rows) if r.text == ""] == [3, 4, 5]
    assert [r.label for r in rows[3:6]] == ["0", "1", "0"]


def test_tweeteval_unknown_split_lists_the_splits(tmp_path):
    folder = _tweeteval(tmp_path / "irony", {"train": TWEETS, "val": TWEETS})
    with pytest.raises(DataError, match=r"no test_text.txt .*\['train_text.txt', 'val_text.txt'\]"):
        resolve_source(folder, split="test")


def test_hf_save_to_disk_folder_with_classlabel(tmp_path):
    import datasets

    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    ds = datasets.Dataset.from_dict({"text": ["bad", " good "], "label": [0, 1]}, features=features)
    datasets.DatasetDict({"train": ds, "validation": ds}).save_to_disk(tmp_path / "hf")
    plan, rows = _all_rows(resolve_source(tmp_path / "hf", split="validation"))
    assert plan.label_names == ["neg", "pos"] and [r.text for r in rows] == ["bad", "good"]
    assert [r.id for r in rows] == [None, None]  # the row number becomes the id downstream


def test_missing_text_column_names_the_columns_found(tmp_path):
    path = _write("csv", tmp_path, [{"tweet": "x", "label": "y"}])
    with pytest.raises(DataError, match=r"no 'text' column; columns found: \['tweet', 'label'\]"):
        plan_source(resolve_source(path))
    plan = plan_source(resolve_source(path, columns=Columns(text="tweet")))
    assert plan.n_rows == 1


def test_invalid_utf8_and_broken_json_name_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n{"text": broken\n{"text": "ok"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: line is not valid UTF-8"):
        plan_source(resolve_source(path))
    plan = plan_source(resolve_source(path), on_bad_row="skip")
    assert [(b.line, b.problem.split(":")[0]) for b in plan.bad_rows] == [
        (2, "line is not valid UTF-8"),
        (3, "broken JSON"),
    ]
    assert [r.text for r in read_rows(plan, 0, 0, plan.n_rows)] == ["fine", "ok"]


def test_invalid_utf8_in_csv_names_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,text\n1,hello\n2,bad \xff byte\n")
    with pytest.raises(DataError, match=r"bad.csv:3: line is not valid UTF-8"):
        plan_source(resolve_source(path))


def test_label_not_in_mapping_names_row_and_label(tmp_path):
    path = _write("jsonl", tmp_path, ROWS + [{"id": "d", "text": "hm", "label": "angry"}])
    src = resolve_source(path, label_names=["negative", "neutral", "positive"])
    with pytest.raises(DataError, match=r"data.jsonl:4: label 'angry' is not in the label mapping"):
        plan_source(src)


def test_integer_labels_and_regression_values(tmp_path):
    plan, _ = _all_rows(
        resolve_source(_write("jsonl", tmp_path, [{"text": "a", "label": 0}, {"text": "b", "label": 2}]))
    )
    assert plan.label_kind == "class" and plan.label_names == ["0", "1", "2"]
    plan, _ = _all_rows(
        resolve_source(
            _write("jsonl", tmp_path, [{"text": "a", "label": 0.5}, {"text": "b", "label": 2}], "reg")
        )
    )
    assert plan.label_kind == "value" and plan.label_names is None


def test_truncated_parquet_is_a_clear_error(tmp_path):
    path = _write("parquet", tmp_path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="data.parquet: not a readable Parquet file"):
        plan_source(resolve_source(path))
