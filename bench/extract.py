"""Extraction speed, measured side by side in one run on the same tweets.

1. hooked + pooled forward vs a plain Hugging Face forward at the same depth (goal >= 0.95)
2. length-sorted batches vs arrival order
3. the Ray pipeline vs the in-process loop, end to end on files (goal >= 0.85)
4. tweets/s of each

Run inside ../shared/bin/loopback-only (it starts Ray):
    python bench/extract.py --n 3000 --ray-n 8000 --json OUT.json
    python bench/extract.py --skip-forward --ray-n 20000 --rounds 2    # the pipeline alone, one round
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import (
    in_worker_rate,
    machine,
    print_result,
    shard_stats,
    text_lines,
    tweeteval_folder,
    write_json,
)

from neuronhead.models import HookedModel, load_model, tokenize
from neuronhead.models.padding import pad_batch
from neuronhead.models.tokens import length_sorted_batches
from neuronhead.pipelines.options import Engine, Output


def load_tweets(n: int, offset: int = 0) -> list[str]:
    return text_lines(tweeteval_folder("sentiment") / "train_text.txt", n, offset)


def plain_forward(loaded, batches):
    with torch.inference_mode():
        for ids, att, _ in batches:
            loaded.model(input_ids=ids, attention_mask=att)


def hooked_forward(hooked, batches):
    for ids, att, pool in batches:
        hooked.forward(ids, att, pool)


def padded(tokens, pad_id, batch_size, sort):
    order = length_sorted_batches([len(x) for x in tokens.ids], batch_size, sort=sort)
    return [pad_batch([tokens.ids[i] for i in b], [tokens.special[i] for i in b], pad_id) for b in order]


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def interleaved(fns: dict, rounds: int) -> dict[str, float]:
    """Median seconds of each function, run in alternation so drift hits them alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, (fn, args) in fns.items():
            times[name].append(timed(fn, *args))
    return {k: statistics.median(v) for k, v in times.items()}


def forward_section(n: int, batch_size: int, rounds: int) -> dict:
    texts = load_tweets(n)
    out = {}
    for depth in (6, 3):
        loaded = load_model(None, depth=depth)
        tokens = tokenize(loaded.tokenizer, texts, 128)
        hooked = HookedModel(loaded, layers=range(depth))
        sorted_b = padded(tokens, hooked.pad_id, batch_size, sort=True)
        arrival_b = padded(tokens, hooked.pad_id, batch_size, sort=False)
        t = interleaved(
            {
                "plain_sorted": (plain_forward, (loaded, sorted_b)),
                "hooked_sorted": (hooked_forward, (hooked, sorted_b)),
                "hooked_arrival": (hooked_forward, (hooked, arrival_b)),
            },
            rounds,
        )
        out[f"depth_{depth}"] = {
            "tweets_per_s": {k: round(n / v, 1) for k, v in t.items()},
            "hooked_vs_plain": round(t["plain_sorted"] / t["hooked_sorted"], 3),
            "sorted_vs_arrival": round(t["hooked_arrival"] / t["hooked_sorted"], 3),
        }
    return out


def pipeline_section(n: int, rounds: int) -> dict:
    import ray

    from neuronhead.cluster.connect import ensure_ray
    from neuronhead.pipelines.extraction import extract

    tmp = Path(tempfile.mkdtemp(prefix="nh-bench-"))
    data = tmp / "tweets.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in load_tweets(n, offset=10_000)))
    t0 = time.perf_counter()
    ensure_ray()
    ray_start = time.perf_counter() - t0
    times: dict[str, list[float]] = {"local": [], "ray": []}
    steady: dict[str, list[float]] = {"local": [], "ray": []}  # rows / seconds inside the shard workers
    for r in range(rounds):
        for engine in ("local", "ray"):
            out = tmp / f"{engine}-{r}"
            t = time.perf_counter()
            extract(data, out, engine=Engine(engine), output=Output(progress=False))
            times[engine].append(time.perf_counter() - t)
            steady[engine].append(in_worker_rate(shard_stats(out)))
    ray.shutdown()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "texts": n,
        "ray_start_s": round(ray_start, 1),
        "seconds": {k: round(v, 1) for k, v in med.items()},
        "tweets_per_s": {k: round(n / v, 1) for k, v in med.items()},
        "ray_vs_local": round(med["local"] / med["ray"], 3),
        "ray_vs_local_with_ray_start": round(med["local"] / (med["ray"] + ray_start), 3),
        "in_worker_tweets_per_s": {k: round(statistics.median(v), 1) for k, v in steady.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=3000, help="tweets for the forward comparisons")
    parser.add_argument("--ray-n", type=int, default=8000, help="tweets for the pipeline comparison")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--skip-forward", action="store_true")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    result = {"machine": machine(), "batch_size": args.batch_size}
    result["forward"] = {} if args.skip_forward else forward_section(args.n, args.batch_size, args.rounds)
    for depth, r in result["forward"].items():
        print(
            f"[{depth}] tweets/s {r['tweets_per_s']}  hooked/plain {r['hooked_vs_plain']}  "
            f"sorted/arrival {r['sorted_vs_arrival']}",
            flush=True,
        )
    if not args.skip_pipeline:
        result["pipeline"] = p = pipeline_section(args.ray_n, max(1, args.rounds - 1))
        print(
            f"[pipeline] {p['texts']} tweets: local {p['seconds']['local']} s, ray {p['seconds']['ray']} s "
            f"(+{p['ray_start_s']} s Ray start) → ray/local {p['ray_vs_local']} "
            f"({p['ray_vs_local_with_ray_start']} counting Ray start)",
            flush=True,
        )
    if args.json:
        write_json(args.json, result)
    print_result(result)


if __name__ == "__main__":
    main()
