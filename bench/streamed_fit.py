"""The streamed ``fit`` against the in-memory one it replaced, side by side on one feature folder.

Runs ``neuronhead fit --select-on none`` (the default head, unchosen) twice in one go, each inside
``bench/memory_cap.py``'s cgroup: the code before streaming (a git worktree of commit ``--before-commit``,
imported through ``PYTHONPATH``) under ``--before-cap-gb``, and this checkout under ``--cap-gb``. Prints
wall time, peak memory of the process tree, the val headline and the per-layer overlap of the salient
neuron sets (from each run's ``ranking.csv``).

    git worktree add /tmp/nh-before d5912e4
    ../shared/bin/loopback-only .venv/bin/python bench/streamed_fit.py --features FEATS/sentiment \\
        --before /tmp/nh-before --runs RUNS --out docs/data/cpu-2026-11-30/streamed_fit.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from common import salient_neurons, write_json
from memory_cap import capped_run


def _fit(code: Path | None, features: Path, out: Path, cap_gb: float) -> dict:
    features, out = features.resolve(), out.resolve()
    argv = [sys.executable, "-m", "neuronhead.cli", "fit", "--features", str(features / "train")]
    argv += ["--val-features", str(features / "val"), "--out", str(out), "--select-on", "none"]
    # -m puts the working directory first on sys.path: run the old code from its own worktree.
    env = dict(os.environ) | ({"PYTHONPATH": str(code)} if code is not None else {})
    run = capped_run(argv, int(cap_gb * 2**30), env, cwd=code)
    run["peak_gib"] = round(run["peak_bytes"] / 2**30, 3)
    if run["returncode"] == 0:
        report = json.loads((out / "report.json").read_text())
        run["val"] = report["val"]
        run["metric"] = report["metric"]
        run["seconds"] = report["seconds"]
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=Path, required=True, help="a task folder with train/ and val/")
    ap.add_argument("--before", type=Path, required=True, help="worktree of the in-memory code")
    ap.add_argument("--runs", type=Path, required=True)
    ap.add_argument("--cap-gb", type=float, default=2.0)
    ap.add_argument("--before-cap-gb", type=float, default=16.0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    before = _fit(args.before, args.features, args.runs / "before", args.before_cap_gb)
    after = _fit(None, args.features, args.runs / "streamed", args.cap_gb)
    result = {"before": before, "streamed": after}
    if before["returncode"] == 0 and after["returncode"] == 0:
        a, b = salient_neurons(args.runs / "before"), salient_neurons(args.runs / "streamed")
        share = {k: len(a[k] & b.get(k, set())) / max(len(a[k]), 1) for k in sorted(a)}
        result["salient_overlap_per_layer"] = {k: round(v, 4) for k, v in share.items()}
        metric = before["metric"]
        result["val_difference"] = round(after["val"][metric] - before["val"][metric], 3)
        result["wall_ratio"] = round(after["wall_s"] / before["wall_s"], 3)
    print(json.dumps(result, indent=2), flush=True)
    if args.out:
        write_json(args.out, result, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
