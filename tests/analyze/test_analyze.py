"""``analyze`` on scores written by hand: counts, shares and intervals recomputed here row by row."""

from __future__ import annotations

import json
import math
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from neuronhead.analyze import AnalyzeOptions, analyze
from neuronhead.analyze.shares import wilson
from neuronhead.pipelines.options import Engine
from neuronhead.store import shard_name, write_json, write_table
from neuronhead.tweets.columns import META_FIELDS

LABELS = ["negative", "neutral", "positive"]
START = datetime(2024, 5, 1, tzinfo=UTC)
LOCAL = Engine("local")


def _rows(n: int, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        error = rng.choices([None, "empty text", "filtered: retweet (--retweets drop)"], [0.85, 0.05, 0.1])[0]
        lab = None if error else rng.choices(LABELS, [0.2, 0.5, 0.3])[0]
        rows.append(
            {
                "row": i,
                "id": str(1000 + i),
                "created_at": None if i % 50 == 7 else START + timedelta(hours=rng.randrange(24 * 9)),
                "lang": rng.choice(["en", "es", None]),
                "author_id": f"a{rng.randrange(5)}",
                "hashtags": rng.choice([[], ["Cats"], ["cats", "dogs"], ["news"]]),
                "is_retweet": False,
                "retweet_of": None,
                "text_field": "text",
                "sent_label": lab,
                "sent_label_id": None if lab is None else LABELS.index(lab),
                "stars_label": None if error else rng.uniform(1, 5),
                "truncated": False,
                "error": error,
            }
        )
    return rows


def _scores(folder: Path, rows: list[dict], shards: int = 3) -> Path:
    schema = pa.schema(
        [
            pa.field("row", pa.int64()),
            pa.field("id", pa.string()),
            *META_FIELDS,
            pa.field("sent_label", pa.string()),
            pa.field("sent_label_id", pa.int32()),
            pa.field("stars_label", pa.float64()),
            pa.field("truncated", pa.bool_()),
            pa.field("error", pa.string()),
        ]
    )
    size = math.ceil(len(rows) / shards)
    (folder / "shards").mkdir(parents=True)
    entries = []
    for k in range(shards):
        part = rows[k * size : (k + 1) * size]
        write_table(pa.Table.from_pylist(part, schema=schema), folder / shard_name(k))
        entries.append({"file": shard_name(k), "rows": len(part)})
    write_json(
        {
            "kind": "scores",
            "status": "complete",
            "heads": {
                "sent": {"task": "classification", "label_names": LABELS},
                "stars": {"task": "regression", "label_names": None},
            },
            "shards": entries,
            "summary": {"rows_out": len(rows)},
        },
        folder / "manifest.json",
    )
    return folder


def test_wilson_matches_known_values():
    low, high = wilson(np.array([5, 0, 10]), np.array([10, 10, 10]))
    np.testing.assert_allclose(low, [0.2366, 0.0, 0.7225], atol=1e-4)
    np.testing.assert_allclose(high, [0.7634, 0.2775, 1.0], atol=1e-4)


@pytest.mark.parametrize("engine", ["local", pytest.param("ray", marks=pytest.mark.slow)])
def test_shares_by_day_and_language_equal_a_recount(tmp_path, engine):
    rows = _rows(600)
    options = AnalyzeOptions(by="day", group_by="lang")
    summary = analyze(
        _scores(tmp_path / "s", rows), tmp_path / "a", options, engine=Engine(engine), progress=False
    )
    scored = [r for r in rows if r["error"] is None]
    assert summary["rows"] == 600 and summary["scored"] == len(scored)
    assert summary["filtered"] == sum(1 for r in rows if (r["error"] or "").startswith("filtered"))
    assert summary["errors"] == 600 - len(scored) - summary["filtered"]
    assert summary["rows_without_date"] == sum(r["created_at"] is None for r in rows)
    want: dict[tuple, Counter] = defaultdict(Counter)
    for r in scored:
        day = r["created_at"].strftime("%Y-%m-%d") if r["created_at"] else "no date"
        want[(day, r["lang"] or "unknown")][r["sent_label"]] += 1
    shares = pq.read_table(tmp_path / "a" / "shares.parquet").to_pylist()
    assert len(shares) == len(want) * 3  # every label in every cell, zeros included
    for s in shares:
        cell = want[(s["bucket"], s["group"])]
        assert s["n"] == cell[s["label"]] and s["total"] == sum(cell.values())
        assert s["share"] == pytest.approx(s["n"] / s["total"])
        lo, hi = wilson(np.array([s["n"]]), np.array([s["total"]]))
        assert (s["ci_low"], s["ci_high"]) == pytest.approx((lo[0], hi[0]))
        assert s["ci_low"] <= s["share"] <= s["ci_high"]
    csv = (tmp_path / "a" / "shares.csv").read_text().splitlines()
    assert len(csv) == len(shares) + 1
    table = pq.read_table(tmp_path / "a" / "means.parquet")
    means = {(m["bucket"], m["group"]): m for m in table.to_pylist()}
    values = defaultdict(list)
    for r in scored:
        day = r["created_at"].strftime("%Y-%m-%d") if r["created_at"] else "no date"
        values[(day, r["lang"] or "unknown")].append(r["stars_label"])
    for key, v in values.items():
        m = means[key]
        assert m["n"] == len(v) and m["mean"] == pytest.approx(np.mean(v))
        if len(v) > 1:
            half = 1.959964 * np.std(v, ddof=1) / math.sqrt(len(v))
            assert (m["ci_low"], m["ci_high"]) == pytest.approx((np.mean(v) - half, np.mean(v) + half))
    plot = Image.open(tmp_path / "a" / "plots" / "sent-shares.png")
    assert plot.size[0] >= 600 and len(np.unique(np.asarray(plot.convert("RGB")).reshape(-1, 3), axis=0)) > 50
    assert (tmp_path / "a" / "plots" / "stars-means.png").exists()


def test_hashtags_group_case_blind_and_top_hashtags_per_label(tmp_path):
    rows = _rows(400, seed=5)
    options = AnalyzeOptions(by="week", group_by="hashtag")
    analyze(_scores(tmp_path / "s", rows), tmp_path / "a", options, engine=LOCAL, progress=False)
    scored = [r for r in rows if r["error"] is None]
    shares = pq.read_table(tmp_path / "a" / "shares.parquet").to_pylist()
    totals = Counter()
    for s in shares:
        if s["label"] == LABELS[0]:
            totals[s["group"]] += s["total"]
    assert totals["cats"] == sum(any(h.lower() == "cats" for h in r["hashtags"]) for r in scored)
    assert totals["(no hashtag)"] == sum(not r["hashtags"] for r in scored)
    assert "Cats" not in totals
    top = pq.read_table(tmp_path / "a" / "top_hashtags.parquet").to_pylist()
    for t in top:
        in_label = [r for r in scored if r["sent_label"] == t["label"]]
        with_tag = [r for r in in_label if t["hashtag"] in {h.lower() for h in r["hashtags"]}]
        base = sum(t["hashtag"] in {h.lower() for h in r["hashtags"]} for r in scored) / len(scored)
        assert t["n"] == len(with_tag) and t["share"] == pytest.approx(len(with_tag) / len(in_label))
        assert t["lift"] == pytest.approx(t["share"] / base)
    assert {t["label"] for t in top} == set(LABELS) and all(t["rank"] <= 20 for t in top)


def test_clear_errors(tmp_path):
    rows = _rows(20)
    plain = _scores(tmp_path / "s", [{k: v for k, v in r.items()} for r in rows])
    for f in (plain / "shards").glob("*.parquet"):
        t = pq.read_table(f)
        pq.write_table(t.drop_columns(["created_at", "lang", "hashtags"]), f)
    with pytest.raises(ValueError, match="no created_at column"):
        analyze(plain, tmp_path / "a", AnalyzeOptions(by="day"), engine=LOCAL, progress=False)
    with pytest.raises(ValueError, match="no hashtags column"):
        analyze(
            plain, tmp_path / "a", AnalyzeOptions(by=None, group_by="hashtag"), engine=LOCAL, progress=False
        )
    summary = analyze(plain, tmp_path / "b", AnalyzeOptions(by=None), engine=LOCAL, progress=False)
    assert summary["scored"] == sum(r["error"] is None for r in rows)
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        analyze(tmp_path / "nothing", tmp_path / "c", engine=LOCAL, progress=False)


def test_the_cli_passes_its_flags_as_options(tmp_path, capsys):
    from neuronhead.cli import main

    scores = _scores(tmp_path / "s", _rows(200, seed=7))
    args = ["--by", "week", "--group-by", "hashtag", "--top", "2", "--engine", "local", "--no-plots"]
    assert main(["analyze", "--scores", str(scores), "--out", str(tmp_path / "cli"), *args]) == 0
    options = AnalyzeOptions(by="week", group_by="hashtag", top=2, plots=False)
    direct = analyze(scores, tmp_path / "api", options, engine=LOCAL, progress=False)
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("by", "group_by", "rows", "scored", "buckets", "groups", "plots"):
        assert printed[key] == direct[key], key
    assert not (tmp_path / "cli" / "plots").exists()
    top = pq.read_table(tmp_path / "cli" / "top_hashtags.parquet")
    assert (
        top.equals(pq.read_table(tmp_path / "api" / "top_hashtags.parquet"))
        and max(top["rank"].to_pylist()) == 2
    )
