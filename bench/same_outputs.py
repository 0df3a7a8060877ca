"""Before/after check for a change that must not change behaviour: fit, score, tune and analyze on
the demo set, then every output file compared with another checkout's, apart from paths and timings.

    cp -rp examples/demo DEMO   # once: both sides read one copy
    # in each checkout (the old one: git worktree add --detach ../nh-before COMMIT):
    ../shared/bin/loopback-only .venv/bin/python bench/same_outputs.py run OUT --demo DEMO
    .venv/bin/python bench/same_outputs.py compare OUT_BEFORE OUT_AFTER

``run`` calls the ``neuronhead`` of the checkout holding this script (``python -m neuronhead.cli``
with that checkout first on ``PYTHONPATH``, so one venv serves both sides), with fixed seeds.
``compare`` reads both trees: equal bytes pass; JSON files are compared after dropping the keys that
hold wall times, dates or machine facts and after writing each tree's own root as ``OUT``; anything
else must be byte-identical. It prints each difference and exits 1 if there is one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo"
# keys whose values are times, dates or facts of the machine, not of the result
VOLATILE = re.compile(
    r"(second|seconds|_s|time|when|date|elapsed|per_second|texts_per_second|rate|pid|host|machine|"
    r"started|finished|duration|cpu|memory|rss|rss_mb|pss|python|neuronhead_version|ray_address|node)$"
)
SKIP_FILES = {"progress.log"}
SKIP_DIRS = {"ray-tune", "cache", "__pycache__"}  # Ray Tune's own state; the extraction cache itself


def _cli(*args: str) -> None:
    cmd = [sys.executable, "-m", "neuronhead.cli", *args]
    print("$ neuronhead", " ".join(args), flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)


def run(out: Path, demo: Path = DEMO) -> None:
    """The four commands on the demo set ``demo``, into ``out`` (fresh each time). Input paths and
    file times enter cache names and fingerprints: give both sides one copy (``cp -rp``)."""
    out, demo = out.resolve(), demo.resolve()
    if out.exists():
        raise SystemExit(f"{out} exists: give a new folder")
    data = ["--train", str(demo / "train.csv"), "--val", str(demo / "val.csv"), "--cache", str(out / "cache")]
    _cli("fit", *data, "--out", str(out / "fit"), "--baselines", "--engine", "local")
    _cli("score", "--head", f"demo={out / 'fit'}", "--data", str(demo / "score.csv"), "--out",
         str(out / "score"), "--engine", "local")  # fmt: skip
    _cli("tune", *data, "--out", str(out / "tune"), "--trials", "3", "--seed", "0")
    _cli("analyze", "--scores", str(out / "score"), "--out", str(out / "analyze"), "--by", "none",
         "--engine", "local")  # fmt: skip


def _files(root: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(root)): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in SKIP_FILES and not SKIP_DIRS & set(p.relative_to(root).parts)
    }


def _clean(value, root: str):
    """JSON without volatile keys, with the tree's root written as OUT."""
    if isinstance(value, dict):
        return {k: _clean(v, root) for k, v in value.items() if not VOLATILE.search(k)}
    if isinstance(value, list):
        return [_clean(v, root) for v in value]
    if isinstance(value, str):
        return value.replace(root, "OUT")
    return value


def _json(path: Path, root: Path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [_clean(json.loads(line), str(root)) for line in text.splitlines() if line.strip()]
    return _clean(json.loads(text), str(root))


def compare(a: Path, b: Path) -> list[str]:
    """Every difference between the trees, one line each."""
    a, b = a.resolve(), b.resolve()
    fa, fb = _files(a), _files(b)
    problems = [f"only in {a}: {n}" for n in sorted(fa.keys() - fb.keys())]
    problems += [f"only in {b}: {n}" for n in sorted(fb.keys() - fa.keys())]
    same = 0
    for name in sorted(fa.keys() & fb.keys()):
        pa, pb = fa[name], fb[name]
        if (
            pa.read_bytes() == pb.read_bytes()
            or pa.suffix in (".json", ".jsonl")
            and _json(pa, a) == _json(pb, b)
        ):
            same += 1
        else:
            problems.append(f"differs: {name}")
    print(f"{same} of {len(fa.keys() & fb.keys())} files the same (JSON apart from paths and timings)")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    run_p = sub.add_parser("run")
    run_p.add_argument("out", type=Path)
    run_p.add_argument("--demo", type=Path, default=DEMO, help="the demo set's folder (one copy for both)")
    cmp = sub.add_parser("compare")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    args = ap.parse_args()
    if args.what == "run":
        run(args.out, args.demo)
        return 0
    problems = compare(args.before, args.after)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
