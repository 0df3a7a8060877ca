"""Memory stays flat as the input grows: score N rows made by repeating the shared tweets, for several N.

The input is a folder of CSV files (50,000 rows each by default), as tweet dumps usually are.

Each size runs `neuronhead score` in its own process (so the driver's peak RSS is its own) on local
Ray; workers report their own peak RSS per shard. Prints rows, wall time, throughput and both peaks.

    ../shared/bin/loopback-only .venv/bin/python bench/score_scale.py --head runs/tune/pareto/layer-0 \
        --sizes 100000,1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import comma_list, nonempty_texts, print_result, tweeteval_folder


def make_input(folder: Path, n: int, source: Path, file_rows: int) -> None:
    """``n`` rows of ``id,text`` cycling through the source tweets, unique ids, ``file_rows`` per CSV."""
    import csv

    tweets = nonempty_texts(source, n, cycle=True)
    folder.mkdir(parents=True, exist_ok=True)
    for f, start in enumerate(range(0, n, file_rows)):
        with open(folder / f"part-{f:04d}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "text"])
            for i in range(start, min(n, start + file_rows)):
                w.writerow([f"t{i:08d}", tweets[i]])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--head", action="append", required=True)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--tweets", default=str(tweeteval_folder("sentiment") / "train_text.txt"))
    parser.add_argument("--work", default="runs/score-scale")
    parser.add_argument("--file-rows", type=int, default=50_000, help="rows per input CSV file")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for n in comma_list(args.sizes, int):
        data = work / f"tweets-{n}"
        if not data.exists():
            make_input(data, n, Path(args.tweets), args.file_rows)
        out = work / f"scores-{n}"
        cmd = [sys.executable, "-m", "neuronhead.cli", "score", "--data", str(data), "--out", str(out)]
        for h in args.head:
            cmd += ["--head", h]
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        summary = json.loads((out / "summary.json").read_text())
        row = {
            "rows": n,
            "rows_out": summary["rows_out"],
            "wall_s": round(time.perf_counter() - t, 1),
            "texts_per_second": summary["texts_per_second"],
            "driver_peak_rss_mb": summary["peak_rss_mb"]["driver"],
            "worker_peak_rss_mb": summary["peak_rss_mb"]["worker"],
        }
        results.append(row)
        print(json.dumps(row), flush=True)
    print_result(results)


if __name__ == "__main__":
    main()
