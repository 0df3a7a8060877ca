"""Where a scoring job's CPU goes, process by process, and when its shards come back.

Runs ``neuronhead score`` (a k = 1 head fitted like ``pipeline.py``'s) on N TweetEval tweets in a fresh
process, samples every process it starts from ``/proc`` every 0.2 s, and records each one's name, when
it appeared and its CPU-seconds, plus when each score shard appeared. With ``--checkout DIR`` the
package comes from another tree (a ``git worktree`` of an older commit), to compare side by side.
``--imports`` also measures, in fresh interpreters, what the read+tokenize worker imports now (the
tokenize stage's modules) against torch and transformers on top: CPU-seconds and peak RSS.

    L=../shared/bin/loopback-only
    $L .venv/bin/python bench/ray_timeline.py --n 20000 --imports \
        --json docs/data/cpu-2026-12-01/ray_timeline_20k.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, print_result, write_json
from pipeline import make_k1_head, tweets, write_input

TICK = os.sysconf("SC_CLK_TCK")
STAGE = "import ray, neuronhead.pipelines.shards"
IMPORTS = {"tokenize stage": STAGE, "with torch and transformers": f"import torch, transformers; {STAGE}"}


def processes() -> dict[int, tuple[str, float]]:
    """``{pid: (command line, CPU-seconds)}`` of every process now."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        out[int(pid)] = (cmd.strip()[:100], (int(fields[11]) + int(fields[12])) / TICK)
    return out


def trace(args: list[str], out: Path, env: dict[str, str], cwd: str | None) -> dict:
    """Run ``args``; every new process's name, first and last time seen and CPU; shard times."""
    before = set(processes())
    t0 = time.perf_counter()
    pipes = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
    proc = subprocess.Popen(args, env=env, cwd=cwd, **pipes)
    seen: dict[int, dict] = {}
    shards: dict[str, float] = {}
    while proc.poll() is None:
        now = time.perf_counter() - t0
        for pid, (cmd, cpu) in processes().items():
            if pid not in before:
                row = seen.setdefault(pid, {"first_s": round(now, 1)})
                row.update(name=cmd or row.get("name", ""), last_s=round(now, 1), cpu_s=cpu)
        for f in (out / "shards").glob("shard-*.parquet") if (out / "shards").exists() else ():
            shards.setdefault(f.name, round(now, 1))
        time.sleep(0.2)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr.read()[-3000:]}")
    rows = sorted(seen.values(), key=lambda r: r["first_s"])
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "cpu_s": round(sum(r["cpu_s"] for r in rows), 1),
        "processes": [r for r in rows if r["cpu_s"] >= 0.3],
        "shards_at_s": sorted(shards.values()),
    }


def import_cost(code: str, env: dict[str, str], cwd: str | None) -> dict:
    """CPU-seconds and peak RSS of a fresh interpreter that runs ``code``."""
    usage = "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss"
    probe = f"import resource, time\n{code}\nprint(time.process_time(), {usage})"
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=cwd, capture_output=True, text=True)
    cpu, rss = done.stdout.split()
    return {"cpu_s": round(float(cpu), 2), "peak_rss_mb": int(rss) // 1024}


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--n", type=int, default=20000, help="tweets to score")
    parser.add_argument("--engine", default="ray")
    parser.add_argument("--checkout", default=None, help="run the package from this tree")
    parser.add_argument("--imports", action="store_true", help="also the tokenize stage's import cost")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    env = dict(os.environ)
    if args.checkout:
        env["PYTHONPATH"] = str(Path(args.checkout).resolve())
    tmp = Path(tempfile.mkdtemp(prefix="nh-timeline-"))
    head = make_k1_head(tmp)
    data = write_input(tmp / "tweets.jsonl", tweets(args.n))
    out = tmp / "scores"
    command = [sys.executable, "-m", "neuronhead.cli", "score", "--head", f"k1={head}", "--data", str(data),
               "--out", str(out), "--engine", args.engine]  # fmt: skip
    result = {"machine": machine(), "args": vars(args), "trace": trace(command, out, env, args.checkout)}
    if args.imports:
        result["imports"] = {k: import_cost(code, env, args.checkout) for k, code in IMPORTS.items()}
    for p in result["trace"]["processes"]:
        print(f"{p['first_s']:6.1f}-{p['last_s']:6.1f} s  cpu {p['cpu_s']:6.1f}  {p['name'][:70]}")
    print_result({k: v for k, v in result.items() if k != "machine"} | {"trace": "above"})
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
