"""A million-tweet dump end to end: read → score with two heads → analyze by day and language.

The dump is synthetic but shaped like a real one: 60 daily files of Twitter/X API records (v1.1 and v2
mixed), gzip-compressed JSON lines, with generated ids, timestamps over 60 days, languages, hashtags,
retweets and a few repeated ids. The texts are the shared TweetEval sentiment tweets, drawn so that
the true share of negative tweets rises from 15% on day 1 to 35% on day 60: the analysis has a
planted trend to find, and the bench prints how well the predicted daily shares follow it.

Each step runs as the CLI in its own process under bench/peak_memory.py (wall time and the peak memory
of the whole process tree, Ray included); rows in = rows out is checked at every step.

    ../shared/bin/loopback-only .venv/bin/python bench/tweets_e2e.py \
        --head sentiment=runs/sentiment-tune-50/pareto/layer-0 --head emotion=runs/emotion-k1 --n 1000000
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from common import text_lines, tweeteval_folder, tweeteval_labels, write_json

DAYS = 60
LANGS = (["en"] * 70) + (["es"] * 15) + (["fr"] * 8) + (["und"] * 7)
TAGS = ["news", "sports", "music", "politics", "tech", "movies", "gaming", "food", "travel", "weather"]
V1_DATE = "%a %b %d %H:%M:%S +0000 %Y"


def planted_negative_share(day: int) -> float:
    return 0.15 + 0.20 * day / (DAYS - 1)


def _record(i: int, text: str, when: datetime, lang: str, tags: list[str], rng: random.Random) -> dict:
    """A v2 record for even ids, a v1.1 one for odd; one in ten v1.1 records is a retweet."""
    body = text + "".join(f" #{t}" for t in tags)
    if i % 2 == 0:
        return {
            "id": str(10**15 + i),
            "text": body,
            "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "lang": lang,
            "author_id": str(rng.randrange(50_000)),
            "entities": {"hashtags": [{"tag": t} for t in tags]},
        }
    record = {
        "id_str": str(10**15 + i),
        "created_at": when.strftime(V1_DATE),
        "lang": lang,
        "user": {"id_str": str(rng.randrange(50_000))},
        "full_text": body,
        "entities": {"hashtags": [{"text": t} for t in tags]},
    }
    if i % 20 == 1:  # a retweet: truncated text of its own, the original in retweeted_status
        record["full_text"] = "RT @someone: " + body[:60] + "…"
        record["retweeted_status"] = {
            "id_str": str(10**14 + i),
            "full_text": body,
            "entities": record["entities"],
        }
    return record


def make_dump(folder: Path, n: int, seed: int = 0) -> dict:
    """``n`` tweets in 60 daily gzip JSON-lines files; returns what was planted (per-day truth)."""
    data = tweeteval_folder("sentiment")
    texts, labels = text_lines(data / "train_text.txt"), tweeteval_labels(data, "train")
    pools = {k: [t for t, y in zip(texts, labels, strict=True) if y == k and t] for k in (0, 1, 2)}
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_day = n // DAYS
    truth = {}
    i = 0
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for day in range(DAYS):
        count = per_day + (1 if day < n % DAYS else 0)
        neg = planted_negative_share(day)
        shares = [neg, (1 - neg) * 0.6, (1 - neg) * 0.4]
        got = [0, 0, 0]
        lines = []
        for _ in range(count):
            y = rng.choices((0, 1, 2), shares)[0]
            got[y] += 1
            when = start + timedelta(days=day, seconds=rng.randrange(86_400))
            tags = rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2)))
            lines.append(json.dumps(_record(i, rng.choice(pools[y]), when, rng.choice(LANGS), tags, rng)))
            if i % 500 == 3:  # the collector saw this tweet twice
                lines.append(lines[-1])
            i += 1
        (folder / f"tweets-{(start + timedelta(days=day)):%Y-%m-%d}.jsonl.gz").write_bytes(
            gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=3)
        )
        truth[(start + timedelta(days=day)).strftime("%Y-%m-%d")] = got[0] / count
    return {"tweets": i, "records": i + len(range(3, i, 500)), "negative_share_by_day": truth}


def timed(cmd: list[str]) -> dict:
    """Run ``cmd`` under bench/peak_memory.py, passing its output through; wall time and peak memory."""
    here = Path(__file__).resolve().parent
    proc = subprocess.Popen(
        [sys.executable, str(here / "peak_memory.py"), "--", *cmd], stderr=subprocess.PIPE, text=True
    )
    found = None
    for line in proc.stderr:
        sys.stderr.write(line)
        if line.startswith("peak_memory: "):
            found = json.loads(line.removeprefix("peak_memory: "))
    if proc.wait() != 0 or found is None or found["exit"] != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--head", action="append", default=[], help="NAME=FOLDER; give two")
    parser.add_argument("--n", type=int, default=1_000_000, help="tweets in the dump")
    parser.add_argument("--work", default="runs/tweets-e2e")
    parser.add_argument("--dump-only", action="store_true", help="write WORK/dump and stop")
    args = parser.parse_args()
    work = Path(args.work)
    dump, scores, analysis = work / "dump", work / "scores", work / "analysis"
    planted_file = work / "planted.json"
    if not planted_file.exists():
        t = time.perf_counter()
        planted = make_dump(dump, args.n)
        planted["seconds"] = round(time.perf_counter() - t, 1)
        write_json(planted_file, planted)
    planted = json.loads(planted_file.read_text())
    print(f"dump: {planted['records']:,} records ({planted['tweets']:,} tweets) in {dump}", flush=True)
    if args.dump_only:
        return
    if not args.head:
        parser.error("give the heads to score with: --head NAME=FOLDER (twice)")
    cli = [sys.executable, "-m", "neuronhead.cli"]
    score_cmd = [*cli, "score", "--data", str(dump), "--out", str(scores), "--dedupe"]
    for h in args.head:
        score_cmd += ["--head", h]
    scored = timed(score_cmd)
    summary = json.loads((scores / "summary.json").read_text())
    assert summary["rows_in"] == summary["rows_out"] == planted["records"], summary
    analyzed = timed([*cli, "analyze", "--scores", str(scores), "--out", str(analysis), "--by", "day",
                      "--group-by", "lang"])  # fmt: skip
    result = json.loads((analysis / "summary.json").read_text())
    assert result["rows"] == summary["rows_out"], result
    shares = pq.read_table(analysis / "shares.parquet").to_pandas()
    name = args.head[0].split("=")[0]
    neg = shares[(shares["head"] == name) & (shares["label"] == "negative")]
    daily = neg.groupby("bucket").apply(lambda d: d["n"].sum() / d["total"].sum(), include_groups=False)
    days = sorted(planted["negative_share_by_day"])
    truth = np.array([planted["negative_share_by_day"][d] for d in days])
    predicted = np.array([daily.get(d, np.nan) for d in days])
    slope_true = np.polyfit(np.arange(len(days)), truth, 1)[0] * (len(days) - 1)
    slope_pred = np.polyfit(np.arange(len(days)), predicted, 1)[0] * (len(days) - 1)
    report = {
        "records": planted["records"],
        "dump_files": len(list(dump.glob("*.jsonl.gz"))),
        "score": {
            **scored,
            **{
                k: summary[k]
                for k in (
                    "rows_in",
                    "rows_out",
                    "scored",
                    "errors",
                    "filtered",
                    "filtered_by",
                    "texts_per_second",
                    "peak_rss_mb",
                )
            },
        },
        "analyze": {**analyzed, **{k: result[k] for k in ("rows", "scored", "filtered", "errors", "groups")}},
        "negative_share": {
            "planted_day1_to_day60": [round(truth[0], 3), round(truth[-1], 3)],
            "predicted_day1_to_day60": [round(predicted[0], 3), round(predicted[-1], 3)],
            "rise_planted": round(float(slope_true), 3),
            "rise_predicted": round(float(slope_pred), 3),
            "daily_correlation": round(float(np.corrcoef(truth, predicted)[0, 1]), 3),
        },
    }
    write_json(work / "result.json", report)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
