"""How close the pipeline comes to the model's own speed, measured side by side in one run.

For each size, in alternating rounds on the same tweets:

- **plain**: a length-sorted Hugging Face forward of the whole model in a fresh process, tokenisation
  included (imports and model load excluded, which favours the baseline);
- **extract** as a user runs it: ``neuronhead extract --data F --out D`` in a fresh process, all
  layers, process start, Ray start and model load included, once per ``--engines`` entry;
- **score** at k = 1 (a head that stops after layer 0), ``neuronhead score`` per engine, end to end.

``--demo-rounds N`` times the demo job (``bash scripts/demo.sh``'s ``neuronhead run``) N times, in
alternation with the ``--before`` checkout's.

``--null`` adds the same CLI runs with the forward replaced by a no-op that returns correctly-shaped,
activation-like values (``bench/null_forward``, plugged in through ``PYTHONPATH``): what the rest of
the pipeline sustains here, also per CPU-second (machine-wide CPU time from /proc/stat, so run it
on a quiet machine).
``--wide-null N`` does the same at GPT2-XL's feature width (48 × 6,400 neurons per tweet).

    ../shared/bin/loopback-only .venv/bin/python bench/pipeline.py --sizes 5000,20000 --null \
        --json docs/data/cpu-2026-12-01/pipeline.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import (
    ROOT,
    machine,
    nonempty_texts,
    print_result,
    save_random_bert,
    shard_stats,
    tweeteval_folder,
    tweeteval_label_names,
    tweeteval_labels,
    write_json,
)

SENTIMENT = tweeteval_folder("sentiment")
NULL_PLUG = Path(__file__).resolve().parent / "null_forward"  # bench/null_forward/sitecustomize.py


def tweets(n: int) -> list[str]:
    """``n`` TweetEval sentiment train tweets, cycled when ``n`` exceeds the split."""
    return nonempty_texts(SENTIMENT / "train_text.txt", n, cycle=True)


def write_input(path: Path, texts: list[str], labels: list[str] | None = None) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i, t in enumerate(texts):
            row = {"id": f"t{i:08d}", "text": t} | ({"label": labels[i]} if labels else {})
            fh.write(json.dumps(row) + "\n")
    return path


def cpu_busy_seconds() -> float:
    """Machine-wide CPU time spent not idle, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cli(*args: str, null: bool = False, checkout: str | None = None) -> dict:
    """Run ``neuronhead ARGS`` in a fresh process (from ``checkout`` when given); wall and CPU seconds."""
    env = dict(os.environ)
    if checkout:  # an older commit's package, e.g. a `git worktree` of the baseline
        env["PYTHONPATH"] = str(Path(checkout).resolve())
    if null:  # its sitecustomize swaps the forward in this process and every Ray worker it starts
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NULL_PLUG), env.get("PYTHONPATH")]))
    c0, t0 = cpu_busy_seconds(), time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "neuronhead.cli", *args],
        env=env,
        cwd=checkout,  # `-m` puts the working directory first on sys.path
        capture_output=True,
        text=True,
    )
    wall, cpu = time.perf_counter() - t0, cpu_busy_seconds() - c0
    if proc.returncode:
        raise RuntimeError(f"neuronhead {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return {"wall_s": wall, "cpu_s": cpu, "stderr_lines": len(proc.stderr.splitlines())}


def step_totals(folder: Path) -> dict[str, float]:
    """Seconds per step summed over the shards (``steps_s`` in shard_stats.json; absent before it)."""
    stats = shard_stats(folder)
    totals: dict[str, float] = {}
    for shard in stats:
        for step, seconds in shard.get("steps_s", {}).items():
            totals[step] = round(totals.get(step, 0.0) + seconds, 2)
    return totals | {"in_workers": round(sum(s["seconds"] for s in stats), 2)}


def plain_forward(texts: list[str], batch_size: int) -> float:
    """Seconds for tokenise + length-sort + forward of every layer, the way a user would write it."""
    from transformers import AutoModel, AutoTokenizer

    from neuronhead.models.loading import resolve_model_path

    path = resolve_model_path(None)
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    t0 = time.perf_counter()
    ids = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            batch = tokenizer.pad(
                {"input_ids": [ids[i] for i in order[s : s + batch_size]]}, return_tensors="pt"
            )
            model(**batch)
    return time.perf_counter() - t0


def plain_in_fresh_process(data: Path, batch_size: int) -> dict:
    """``plain_forward`` in a process of its own, as a user's script runs it: no kernel caches or
    warmed allocator left by earlier rounds (in this process, rounds after the first ran 16% faster:
    35.8 s, then 30.1 and 29.7 s for 5,000 tweets). Imports and model load stay excluded."""
    c0 = cpu_busy_seconds()
    proc = subprocess.run(
        [sys.executable, __file__, "--plain", str(data), str(batch_size)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {"wall_s": float(proc.stdout.split()[-1]), "process_cpu_s": cpu_busy_seconds() - c0}


def make_k1_head(tmp: Path) -> Path:
    """A sentiment head that stops after layer 0, fitted on 4,000 labelled train tweets."""
    texts = tweets(4000)
    names = tweeteval_label_names(SENTIMENT)
    labels = [names[y] for y in tweeteval_labels(SENTIMENT, "train", 4000)]
    data = write_input(tmp / "k1-train.jsonl", texts, labels)
    cli("extract", "--data", str(data), "--layers", "0", "--engine", "local", "--out", str(tmp / "k1-f"))
    cli("fit", "--features", str(tmp / "k1-f"), "--out", str(tmp / "k1-head"), "--select-on", "none",
        "--val-fraction", "0.2", "--no-plots")  # fmt: skip
    return tmp / "k1-head"


def measure_size(n: int, args: argparse.Namespace, head: Path | None, tmp: Path) -> dict:
    """Plain forward and ``extract`` (or ``score`` when ``head`` is given), per engine, in alternation."""
    texts = tweets(n)
    data = write_input(tmp / f"tweets-{n}.jsonl", texts)
    command = "score" if head else "extract"
    jobs: dict[str, tuple | None] = {} if head else {"plain": None}
    if args.before:
        jobs[f"{command}_before"] = ("ray", False, args.before)  # the baseline's default engine
    for engine in args.engines:
        jobs[f"{command}_{engine}"] = (engine, False, None)
        if args.null:
            jobs[f"{command}_{engine}_null"] = (engine, True, None)
    runs: dict[str, list[dict]] = {}
    for r in range(args.rounds):
        for name, job in jobs.items():
            if job is None:
                runs.setdefault(name, []).append(plain_in_fresh_process(data, args.batch_size))
            else:
                engine, null, checkout = job
                what = ["--head", f"k1={head}"] if head else []
                folder = tmp / f"{name}-{n}-{r}"
                out = ["--out", str(folder), "--engine", engine]
                run = cli(command, *what, "--data", str(data), *out, null=null, checkout=checkout)
                runs.setdefault(name, []).append(run | {"steps_s": step_totals(folder)})
                shutil.rmtree(folder)
            print(f"[{n}] round {r} {name}: {runs[name][-1]['wall_s']:.1f} s", flush=True)
    return summarize(n, runs)


def summarize(n: int, runs: dict[str, list[dict]]) -> dict:
    wall = {k: statistics.median(r["wall_s"] for r in v) for k, v in runs.items()}
    out: dict = {"texts": n, "seconds": {k: round(v, 2) for k, v in wall.items()}}
    out["texts_per_s"] = {k: round(n / v, 1) for k, v in wall.items()}
    out["extract_vs_plain"] = (
        {
            k.removeprefix("extract_"): round(wall["plain"] / v, 3)
            for k, v in wall.items()
            if k.startswith("extract_")
        }
        if "plain" in wall
        else None
    )
    for suffix in ("", "_null"):
        if f"score_ray{suffix}" in wall and f"score_local{suffix}" in wall:
            out[f"score_ray_vs_local{suffix}"] = round(
                wall[f"score_local{suffix}"] / wall[f"score_ray{suffix}"], 3
            )
    out["texts_per_cpu_s"] = {
        k: round(n / statistics.median(r["cpu_s"] for r in v), 1) for k, v in runs.items() if "cpu_s" in v[0]
    }
    out["runs"] = runs
    return out


def build_wide_null_model(folder: Path) -> Path:
    """GPT2-XL's feature width on a model that costs nothing to run: 48 blocks × 6,400 FFN neurons
    (hidden size 64, random weights, MiniLM's WordPiece tokenizer). Under the null forward only its
    shapes matter: every tweet becomes 48 × 2 × 6,400 float16 features, 1.2 MB, as with GPT2-XL."""
    wide = {"num_hidden_layers": 48, "hidden_size": 64, "num_attention_heads": 1, "intermediate_size": 6400}
    return save_random_bert(folder, **wide)


def measure_wide_null(n: int, args: argparse.Namespace, tmp: Path) -> dict:
    """The null-forward extraction at GPT2-XL's feature width, per engine: the write path's ceiling."""
    model = build_wide_null_model(tmp / "wide-null-model")
    data = write_input(tmp / f"tweets-wide-{n}.jsonl", tweets(n))
    runs: dict[str, list[dict]] = {}
    for r in range(args.rounds):
        for engine in args.engines:
            folder = tmp / f"wide-{engine}-{r}"
            out = ["--out", str(folder), "--engine", engine, "--model", str(model)]
            run = cli("extract", "--data", str(data), *out, null=True)
            runs.setdefault(f"extract_{engine}_null", []).append(run | {"steps_s": step_totals(folder)})
            shutil.rmtree(folder)
            print(f"[wide {n}] round {r} {engine}: {run['wall_s']:.1f} s", flush=True)
    return summarize(n, runs) | {"model": "48 blocks x 6,400 FFN neurons (GPT2-XL width), null forward"}


def measure_demo(args: argparse.Namespace, tmp: Path) -> dict:
    """The demo job (``neuronhead run --config examples/demo/run.toml``) here and, when given, in the
    ``--before`` checkout, alternating, ``--demo-rounds`` times each; median wall seconds."""
    config = str(ROOT / "examples" / "demo" / "run.toml")
    jobs = {"demo": None} | ({"demo_before": args.before} if args.before else {})
    runs: dict[str, list[dict]] = {}
    for r in range(args.demo_rounds):
        for name, checkout in jobs.items():
            out = tmp / f"{name}-{r}"
            cwd = checkout or str(ROOT)  # the config's relative paths are the checkout's examples/
            run = cli("run", "--config", config, "--out", str(out), checkout=cwd)
            runs.setdefault(name, []).append(run)
            shutil.rmtree(out)
            print(f"[demo] round {r} {name}: {run['wall_s']:.1f} s", flush=True)
    wall = {k: statistics.median(r["wall_s"] for r in v) for k, v in runs.items()}
    out = {"seconds": {k: round(v, 2) for k, v in wall.items()}, "runs": runs}
    if "demo_before" in wall:
        out["demo_vs_before"] = round(wall["demo"] / wall["demo_before"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="5000,20000", help="tweets to extract (comma-separated)")
    parser.add_argument("--score-sizes", default="100000", help="tweets to score at k = 1 (0: none)")
    parser.add_argument("--engines", default="ray,local", type=lambda s: s.split(","))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--null", action="store_true", help="add the null-forward runs")
    parser.add_argument("--head", default=None, help="a k = 1 head to score with (default: fit one)")
    parser.add_argument("--before", default=None, help="a checkout of the baseline commit, run alongside")
    parser.add_argument("--demo-rounds", type=int, default=0, help="time the demo job this many times")
    parser.add_argument("--wide-null", type=int, default=0, help="tweets for the GPT2-XL-width null run")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--plain", nargs=2, metavar=("DATA", "BATCH_SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:  # internal: plain_forward in a process of its own, its seconds on the last line
        lines = Path(args.plain[0]).read_text(encoding="utf-8").splitlines()
        texts = [json.loads(line)["text"] for line in lines]
        print(plain_forward(texts, int(args.plain[1])))
        return
    result = {
        "machine": machine(),
        "extract": {},
        "score_k1": {},
        "args": vars(args),
    }
    with tempfile.TemporaryDirectory(prefix="nh-pipeline-") as tmp_name:
        tmp = Path(tmp_name)
        for n in (int(x) for x in args.sizes.split(",") if int(x)):
            result["extract"][str(n)] = s = measure_size(n, args, None, tmp)
            print(f"[extract {n}] texts/s {s['texts_per_s']}  extract/plain {s['extract_vs_plain']}  "
                  f"per CPU-s {s['texts_per_cpu_s']}", flush=True)  # fmt: skip
        sizes = [int(x) for x in args.score_sizes.split(",") if int(x)]
        head = Path(args.head) if args.head else (make_k1_head(tmp) if sizes else None)
        for n in sizes:
            result["score_k1"][str(n)] = s = measure_size(n, args, head, tmp)
            print(f"[score {n}] texts/s {s['texts_per_s']}  ray/local {s.get('score_ray_vs_local')}  "
                  f"per CPU-s {s['texts_per_cpu_s']}", flush=True)  # fmt: skip
        if args.wide_null:
            result["wide_null"] = s = measure_wide_null(args.wide_null, args, tmp)
            print(f"[wide {args.wide_null}] texts/s {s['texts_per_s']}  per CPU-s {s['texts_per_cpu_s']}")
        if args.demo_rounds:
            result["demo"] = s = measure_demo(args, tmp)
            print(f"[demo] seconds {s['seconds']}  new/before {s.get('demo_vs_before')}", flush=True)
    if args.json:
        write_json(args.json, result)
    print_result(result["machine"])


if __name__ == "__main__":
    main()
