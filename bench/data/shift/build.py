"""Build the collection-shift tweet sets in bench/data/shift/<name>/data.jsonl from their raw files.

    python bench/data/shift/build.py RAW_DIR [--tweeteval DIR]

RAW_DIR holds the files taken from each source's snapshot (see each SOURCE.md):
davidson/labeled_data.csv, airline/Airline-Sentiment-2-w-AA.csv, emoevent/{train,dev,test}.tsv.
Steps per set: map labels (rows with no TweetEval label are dropped), clean text (newlines to spaces,
strip), drop empty texts and exact duplicates, drop texts found in the matching TweetEval train/val
files (normalized), then a stratified sample with numpy default_rng(0). Prints the counts per stage.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TWEETEVAL = HERE.parents[2].parent / "shared" / "data" / "tweeteval"
MAX_ROWS = 3000
FLOOR = 300  # a class whose proportional share is below FLOOR ...
RARE_KEEP = 600  # ... keeps all of its rows, up to RARE_KEEP
URL = re.compile(r"https?://\S+|www\.\S+")
MENTION = re.compile(r"@\w+")

Row = dict[str, str | None]


def norm(text: str) -> str:
    """The key for TweetEval dedupe: URLs -> http, @mentions -> @user, lowercase, collapse whitespace."""
    return " ".join(MENTION.sub("@user", URL.sub("http", text)).lower().split())


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def davidson(raw: Path) -> list[Row]:
    names = {"0": "hate speech", "1": "offensive language", "2": "neither"}
    offensive = {"0": "offensive", "1": "offensive", "2": "not-offensive"}
    hate = {"0": "hate", "1": None, "2": "not-hate"}
    return [
        {
            "text": r["tweet"],
            "label": offensive[r["class"]],
            "hate_label": hate[r["class"]],
            "source_label": names[r["class"]],
            "source_id": r[""],
        }
        for r in read_csv(raw / "davidson" / "labeled_data.csv")
    ]


def airline(raw: Path) -> list[Row]:
    rows = read_csv(raw / "airline" / "Airline-Sentiment-2-w-AA.csv")
    return [
        {
            "text": r["text"],
            "label": r["airline_sentiment"],
            "source_label": r["airline_sentiment"],
            "source_id": r["tweet_id"],
        }
        for r in rows
    ]


def emoevent(raw: Path) -> list[Row]:
    keep = {"anger", "joy", "sadness"}  # others, disgust, fear, surprise have no TweetEval emotion label
    return [
        {
            "text": r["tweet"],
            "label": r["emotion"] if r["emotion"] in keep else None,
            "source_label": r["emotion"],
            "source_id": r["id"],
        }
        for split in ("train", "dev", "test")
        for r in read_csv(raw / "emoevent" / f"{split}.tsv", delimiter="\t")
    ]


SETS: dict[str, tuple[Callable[[Path], list[Row]], tuple[str, ...]]] = {
    "davidson": (davidson, ("offensive", "hate")),
    "airline": (airline, ("sentiment",)),
    "emoevent": (emoevent, ("emotion",)),
}


def quotas(counts: Counter[str], total: int) -> dict[str, int]:
    """Proportional shares of `total`; a rare class keeps min(n, RARE_KEEP); the largest class: the rest."""
    n = sum(counts.values())
    if n <= total:
        return dict(counts)
    out = {}
    for c, k in counts.items():
        share = round(total * k / n)
        out[c] = share if share >= FLOOR else min(k, RARE_KEEP)
    top = max(counts, key=lambda c: counts[c])
    out[top] = total - sum(v for c, v in out.items() if c != top)
    assert 0 < out[top] <= counts[top], out
    return out


def sample(rows: list[Row], seed: int = 0) -> list[Row]:
    rng = np.random.default_rng(seed)
    strata: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        strata[str(r["source_label"])].append(i)
    q = quotas(Counter({c: len(v) for c, v in strata.items()}), MAX_ROWS)
    keep: list[int] = []
    for c in sorted(strata):
        idx = strata[c]
        keep += idx if q[c] >= len(idx) else rng.choice(idx, q[c], replace=False).tolist()
    return [rows[i] for i in sorted(keep)]


def counts(rows: list[Row]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(Counter(str(r["source_label"]) for r in rows).items()))


def build(name: str, raw: Path, tweeteval: Path) -> None:
    reader, tasks = SETS[name]
    rows = reader(raw)
    print(f"## {name}\n- raw: {len(rows)} ({counts(rows)})")
    rows = [r for r in rows if r["label"] is not None]
    print(f"- with a TweetEval label: {len(rows)}")
    seen: set[str] = set()
    unique = []
    for r in rows:
        text = str(r["text"]).replace("\r\n", " ").replace("\n", " ").replace("\r", " ").strip()
        if text and text not in seen:
            seen.add(text)
            unique.append({**r, "text": text})
    print(f"- after dropping empty/exact duplicates: {len(unique)} (dropped {len(rows) - len(unique)})")
    known = {
        norm(line)
        for task in tasks
        for split in ("train", "val")
        for line in (tweeteval / task / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    }
    fresh = [r for r in unique if norm(str(r["text"])) not in known]
    print(
        f"- after TweetEval {'/'.join(tasks)} dedupe: {len(fresh)} (dropped {len(unique) - len(fresh)}: "
        f"{counts([r for r in unique if norm(str(r['text'])) in known]) or 'none'})\n  ({counts(fresh)})"
    )
    final = sample(fresh)
    print(
        f"- final sample: {len(final)} ({counts(final)}); label: "
        f"{dict(sorted(Counter(str(r['label']) for r in final).items()))}"
    )
    out = HERE / name / "data.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in final)
    print(f"- wrote {out.relative_to(HERE.parents[2])} ({out.stat().st_size:,} bytes)\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("raw_dir", type=Path)
    ap.add_argument("--tweeteval", type=Path, default=TWEETEVAL)
    ap.add_argument("--only", choices=sorted(SETS), action="append")
    args = ap.parse_args()
    for name in args.only or list(SETS):
        build(name, args.raw_dir, args.tweeteval)


if __name__ == "__main__":
    main()
