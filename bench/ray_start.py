"""When a Ray command's process is ready to work: Ray started after the imports, or while they run.

Each round runs both orders in fresh processes, alternating:

- **after**: import what a Ray command imports (``cli.RAY_COMMAND_IMPORTS``: torch, transformers,
  the pipelines), then ``ensure_ray()`` (what a Ray command did before
  ``neuronhead.cluster.early``);
- **early**: ``start_ray_early()``, Ray in the main thread while a thread imports the same modules
  (what ``neuronhead extract/score/run --engine ray`` now does).

Each child prints the seconds from its first line to "Ray up and modules imported", then how long
``ray.shutdown()`` took. Medians over the rounds; run it on a quiet machine.

    ../shared/bin/loopback-only .venv/bin/python bench/ray_start.py --rounds 5 \
        --json docs/data/cpu-2026-12-01/ray_start.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from common import machine, print_result, write_json

CHILD = """
import json, time
t0 = time.perf_counter()
from neuronhead.cli import RAY_COMMAND_IMPORTS  # the CLI module itself is light
if {early}:
    from neuronhead.cluster.early import start_ray_early
    start_ray_early(None, RAY_COMMAND_IMPORTS)
else:
    import importlib
    for name in RAY_COMMAND_IMPORTS:
        importlib.import_module(name)
    from neuronhead.cluster.connect import ensure_ray
    ensure_ray()
ready = time.perf_counter() - t0
import ray
t1 = time.perf_counter()
ray.shutdown()
print(json.dumps({{"ready_s": ready, "shutdown_s": time.perf_counter() - t1}}))
"""


def child(early: bool) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(early=early)], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"after": [], "early": []}
    for r in range(args.rounds):
        for name in runs:
            runs[name].append(child(early=name == "early"))
            print(f"round {r} {name}: ready {runs[name][-1]['ready_s']:.2f} s", flush=True)
    median = {
        name: {k: round(statistics.median(x[k] for x in v), 2) for k in ("ready_s", "shutdown_s")}
        for name, v in runs.items()
    }
    result = {"machine": machine(), "median": median, "runs": runs, "args": vars(args)}
    print(json.dumps(median))
    if args.json:
        write_json(args.json, result)
    print_result(median)


if __name__ == "__main__":
    main()
