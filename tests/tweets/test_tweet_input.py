"""A tweet dump as an input of extract and score: metadata through to the scores, filters, normalisation."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from neuronhead.data import DataError, plan_source, read_rows, resolve_source
from neuronhead.fitting.train import FitOptions, fit_head
from neuronhead.heads.artifact import HeadError, read_head_info
from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Capture, Engine, Output, Reading
from neuronhead.pipelines.scoring import score
from neuronhead.tweets.columns import META_NAMES
from neuronhead.tweets.options import TweetOptions
from tests.paths import DEMO

from .test_reader import V1_PLAIN, V1_RETWEET, V2_LONG, V2_ORIGINAL, V2_PLAIN, V2_RETWEET

MENTION = {
    "id": "301",
    "text": "@somebody look at https://t.co/abc right now",
    "created_at": "2023-03-03T09:00:00Z",
    "lang": "en",
    "author_id": "a9",
}


def _dump(folder: Path) -> Path:
    """A gzip JSON lines dump: v1.1 and v2 records, an envelope, a repeated id and three bad lines."""
    lines = [
        json.dumps(V1_PLAIN),  # 101 en
        json.dumps(V1_RETWEET),  # 104 retweet
        json.dumps({"data": [V2_PLAIN, V2_RETWEET, {"id": "299"}], "includes": {"tweets": [V2_ORIGINAL]}}),
        "{broken json",
        json.dumps(V2_LONG),  # 202, no lang
        json.dumps(MENTION),  # 301 en
        json.dumps(V1_PLAIN),  # 101 again
        json.dumps({"id": "302", "text": 5}),
    ]
    path = folder / "dump.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


@pytest.fixture(scope="module")
def heads(tmp_path_factory) -> dict[str, Path]:
    """Two heads on the bundled MiniLM's layers 0..1: one on raw texts, one on TweetEval-normalised ones."""
    root = tmp_path_factory.mktemp("tweet-heads")
    out = {}
    for normalize in ("none", "tweeteval"):
        for split in ("train", "val"):
            extract(
                DEMO / f"{split}.csv",
                root / f"{normalize}-{split}",
                capture=Capture(layers="0-1"),
                reading=Reading(normalize=normalize),
                engine=Engine("local"),
                output=Output(progress=False),
            )
        fit_head(
            root / f"{normalize}-train",
            root / f"head-{normalize}",
            val_features=root / f"{normalize}-val",
            params={"max_layer": 1, "probe_params": {"folds": 2, "max_epochs": 4}},
            options=FitOptions(depth_curve=False, plots=False, select=None, progress=False),
        )
        out[normalize] = root / f"head-{normalize}"
    return out


def test_a_dump_is_recognised_and_read_with_metadata(tmp_path):
    src = resolve_source(_dump(tmp_path))
    assert src.kind == "tweets"
    plan = plan_source(src, on_bad_row="skip")
    assert plan.n_rows == 7 and len(plan.bad_rows) == 3
    problems = [str(b).split("dump.jsonl.gz:", 1)[1] for b in plan.bad_rows]
    assert problems[0].startswith("3: data[3]: no text")  # the envelope's third tweet; its siblings kept
    assert problems[1].startswith("4: broken JSON")
    assert problems[2].startswith("8: text must be a string")
    rows = read_rows(plan, 0, 0, plan.n_rows)
    assert [r.id for r in rows] == ["101", "104", "201", "203", "202", "301", "101"]
    assert rows[3].text == "the original, complete #c" and rows[3].meta["retweet_of"] == "150"
    assert rows[2].meta["lang"] == "es" and rows[2].meta["hashtags"] == ["b"]


def test_plain_jsonl_with_a_text_column_is_not_a_dump(tmp_path):
    path = tmp_path / "texts.jsonl"
    path.write_text(json.dumps({"id": "1", "text": "hello", "user": "bob"}) + "\n")
    assert resolve_source(path).kind == "jsonl"
    assert resolve_source(path, format="tweets").kind == "tweets"
    with pytest.raises(DataError, match="need a Twitter/X API dump"):
        resolve_source(path, tweets=TweetOptions("drop"))


def test_filters_count_and_never_drop(tmp_path):
    src = resolve_source(_dump(tmp_path), tweets=TweetOptions("drop", dedupe=True, langs=("en", "es")))
    plan = plan_source(src, on_bad_row="skip")
    assert plan.filtered == {"retweet": 2, "language": 1, "duplicate": 1}
    rows = read_rows(plan, 0, 0, plan.n_rows)
    assert len(rows) == 7
    skips = {r.id + ("'" if i == 6 else ""): r.skip for i, r in enumerate(rows)}
    assert skips["101"] is None and skips["201"] is None and skips["301"] is None
    assert skips["104"].startswith("filtered: retweet") and skips["203"].startswith("filtered: retweet")
    assert skips["202"] == "filtered: language unknown (--lang en,es)"
    assert skips["101'"].startswith("filtered: duplicate tweet id")


@pytest.mark.parametrize("engine", ["local", pytest.param("ray", marks=pytest.mark.slow)])
def test_scores_carry_the_metadata_and_every_row(heads, tmp_path, engine):
    dump = _dump(tmp_path)
    out = tmp_path / f"scores-{engine}"
    result = score(
        [f"raw={heads['none']}", f"norm={heads['tweeteval']}"] if engine == "local" else [str(heads["none"])],
        dump,
        out,
        keep_text=True,
        reading=Reading(tweets=TweetOptions("drop", dedupe=True), normalize="none"),
        engine=Engine(engine=engine, num_actors=1),
        output=Output(progress=False),
    )
    assert result["rows_in"] == result["rows_out"] == 10
    assert (result["scored"], result["filtered"], result["errors"]) == (4, 3, 3)
    table = pq.read_table(sorted((out / "shards").glob("*.parquet"))).sort_by("row")
    assert set(META_NAMES) <= set(table.column_names)
    rows = table.to_pylist()
    by_id = {r["id"]: r for r in rows[:7]}
    assert by_id["201"]["lang"] == "es" and by_id["201"]["hashtags"] == ["b"]
    assert by_id["201"]["created_at"] == datetime(2023, 3, 1, 12, 30, tzinfo=UTC)
    assert by_id["203"]["is_retweet"] and by_id["203"]["error"].startswith("filtered: retweet")
    label = "raw_label" if engine == "local" else f"{heads['none'].name.replace('-', '_')}_label"
    assert by_id["203"][label] is None and by_id["201"][label] is not None
    assert rows[6]["error"].startswith("filtered: duplicate")
    assert all(r["error"].startswith("unreadable input: ") for r in rows[7:])
    assert sum(r["error"] is None for r in rows) == result["scored"]


def test_the_head_records_normalisation_and_scoring_applies_it(heads, tmp_path):
    assert read_head_info(heads["tweeteval"]).extraction.normalize == "tweeteval"
    assert read_head_info(heads["none"]).extraction.normalize == "none"
    texts = tmp_path / "t.csv"
    texts.write_text("id,text\n1,@somebody look at https://t.co/abc now\n")
    got = {}
    for name, head in heads.items():
        score(
            [str(head)],
            texts,
            tmp_path / name,
            keep_text=True,
            engine=Engine("local"),
            output=Output(progress=False),
        )
        got[name] = pq.read_table(tmp_path / name / "shards")["text"].to_pylist()[0]
    assert got == {"none": "@somebody look at https://t.co/abc now", "tweeteval": "@user look at http now"}
    with pytest.raises(HeadError, match="extracted differently"):
        score(
            [str(h) for h in heads.values()],
            texts,
            tmp_path / "both",
            engine=Engine("local"),
            output=Output(progress=False),
        )


def test_a_tweeteval_folder_is_recorded_as_normalised(tmp_path):
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / "train_text.txt").write_text("@user hi http \nsecond one\n")
    (folder / "train_labels.txt").write_text("0\n1\n")
    manifest = extract(
        folder,
        tmp_path / "f",
        capture=Capture(layers="0"),
        engine=Engine("local"),
        output=Output(progress=False),
    )
    assert manifest.normalize == "tweeteval"
    plain = tmp_path / "p.csv"
    plain.write_text("text,label\n@bob hi,0\nyo,1\n")
    assert (
        extract(
            plain,
            tmp_path / "g",
            capture=Capture(layers="0"),
            engine=Engine("local"),
            output=Output(progress=False),
        ).normalize
        == "none"
    )


def test_shards_start_at_a_checkpoint_and_read_the_same_rows(tmp_path, monkeypatch):
    """Later shards of a big file skip parsing the lines before them, and get exactly the same rows."""
    import dataclasses

    import neuronhead.tweets.reader as reader

    lines = []
    for i in range(5000):
        if i % 97 == 0:
            lines.append("{not json")
        elif i % 61 == 0:  # an envelope whose first tweet is bad: its line must not be a checkpoint
            lines.append(
                json.dumps(
                    {"data": [{"id": f"x{i}"}, {**V2_PLAIN, "id": f"e{i}"}, {**V2_PLAIN, "id": f"f{i}"}]}
                )
            )
        else:
            lines.append(json.dumps({**V2_PLAIN, "id": str(i), "text": f"tweet number {i}"}))
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    plan = plan_source(resolve_source(path), on_bad_row="skip")
    assert len(plan.files[0].checkpoints) >= 4
    scan = dataclasses.replace(plan, files=[dataclasses.replace(plan.files[0], checkpoints=[])])
    for start in (0, 1, 1023, 1024, 2049, 3000, plan.n_rows - 10):
        assert read_rows(plan, 0, start, 10) == read_rows(scan, 0, start, 10)
    calls = []
    real = reader.json.loads
    monkeypatch.setattr(reader.json, "loads", lambda s, *a, **k: calls.append(1) or real(s, *a, **k))
    read_rows(plan, 0, plan.n_rows - 10, 10)
    assert len(calls) < 1100  # from the last checkpoint on, not all 5,000 lines
