"""A GPT2-XL-wide fit under a hard memory cap: 48 layers × 6,400 neurons × mean/max, float16.

Writes a store in the exact store format with a planted signal (``neuronhead.synthetic``: a few hundred
named neurons spread over the layers, each raised for one class), under a temporary folder, runs
``neuronhead fit`` on it inside ``bench/memory_cap.py``'s cgroup, checks that the planted neurons are
among the selected ones, and removes the store. At 5,000 rows the store is ≈ 6 GB: far more than the cap.

    ../shared/bin/loopback-only .venv/bin/python bench/wide_fit.py --rows 5000 --cap-gb 4 \\
        --out docs/data/cpu-2026-11-30/wide_fit.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import salient_neurons, write_json
from memory_cap import capped_run

from neuronhead.store import read_manifest
from neuronhead.synthetic import PlantedStore, write_planted_store


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--layers", type=int, default=48)
    ap.add_argument("--width", type=int, default=6400)
    ap.add_argument("--planted", type=int, default=240)
    ap.add_argument("--strength", type=float, default=0.5, help="planted shift, in units of 2 SD")
    ap.add_argument("--cap-gb", type=float, default=4.0)
    ap.add_argument("--select-on", default="none", help="fit's --select-on (none: the default head)")
    ap.add_argument("--tmp", default=None, help="where the store goes (default: the system temp dir)")
    ap.add_argument(
        "--store",
        type=Path,
        default=None,
        help="keep the store in this folder and reuse it when it holds the same spec (it is not removed)",
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    size = {"rows": args.rows, "layers": args.layers, "width": args.width}
    spec = PlantedStore(**size, planted=args.planted, strength=args.strength, shard_rows=500)
    root = args.store or Path(tempfile.mkdtemp(prefix="neuronhead-wide-", dir=args.tmp))
    try:
        t0 = time.perf_counter()
        planted = _planted_store(root, spec)
        write_s = time.perf_counter() - t0
        store_bytes = sum(p.stat().st_size for p in (root / "train").rglob("*") if p.is_file())
        print(f"store: {store_bytes / 1e9:.2f} GB written in {write_s:.0f} s", flush=True)
        argv = [
            sys.executable, "-m", "neuronhead.cli", "fit", "--features", str(root / "train"),
            "--out", str(root / "head"), "--val-fraction", "0.2", "--select-on", args.select_on,
            "--no-plots",
        ]  # fmt: skip
        run = capped_run(argv, int(args.cap_gb * 2**30))
        result = {"spec": vars(spec), "store_bytes": store_bytes, "write_s": round(write_s, 1), "fit": run}
        if run["returncode"] == 0:
            result |= _recovery(root / "head", planted, run["wall_s"], spec)
        print(json.dumps(result, indent=2), flush=True)
        if args.out:
            write_json(args.out, result, indent=2)
        return run["returncode"]
    finally:
        if args.store is None:
            shutil.rmtree(root, ignore_errors=True)
        else:
            shutil.rmtree(root / "head", ignore_errors=True)


def _planted_store(root: Path, spec: PlantedStore) -> dict:
    """Write the store under ``root/train``, or reuse a complete one written there with this spec."""
    planted = spec.planted_neurons()
    try:
        written = dict(read_manifest(root / "train").synthetic or {})
    except (OSError, ValueError):
        written = {}
    same = {k: v for k, v in vars(spec).items() if k != "planted"}
    kept = written.pop("planted", None)
    if kept is not None and written == same and kept == {str(k): v.tolist() for k, v in planted.items()}:
        return planted
    shutil.rmtree(root / "train", ignore_errors=True)
    return write_planted_store(root / "train", spec)


def _recovery(head_folder: Path, planted: dict, wall_s: float, spec: PlantedStore) -> dict:
    """Share of the planted neurons among the shipped head's, and the run's rates."""
    report = json.loads((head_folder / "report.json").read_text())
    kept = salient_neurons(head_folder)
    found = sum(len(set(v.tolist()) & kept.get(layer, set())) for layer, v in planted.items())
    total = sum(len(v) for v in planted.values())
    return {
        "planted_found": found,
        "planted_total": total,
        "planted_recall": round(found / total, 4),
        "val": report.get("val"),
        "seconds": report.get("seconds"),
        "seconds_per_layer": round(wall_s / spec.layers, 2),
        "rows_per_s": round(spec.rows / wall_s, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
