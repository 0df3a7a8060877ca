"""Run a command and report its wall time and the peak memory of its whole process tree.

Ray starts its GCS, raylet and workers as descendants of the driver, so summing over the tree is
what a user's machine feels. PSS splits shared pages (Ray's object store, torch libraries) between the
processes that map them, so its sum does not double count; the RSS sum (an upper bound) is shown too.

    python bench/peak_memory.py -- neuronhead extract --data ... --out ...
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import psutil


def tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def pss_rss(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in bytes from /proc/PID/smaps_rollup: far cheaper than walking the full smaps."""
    pss = rss = 0
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
            elif line.startswith("Rss:"):
                rss = int(line.split()[1]) * 1024
    return pss, rss


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    command = ap.parse_args(argv).command
    argv = command[1:] if command[:1] == ["--"] else command
    if not argv:
        ap.error("give the command after --")
    start = time.perf_counter()
    proc = subprocess.Popen(argv)
    root = psutil.Process(proc.pid)
    peak_pss = peak_rss = 0
    while proc.poll() is None:
        pss = rss = 0
        for p in tree(root):
            try:
                p_pss, p_rss = pss_rss(p.pid)
            except (OSError, ValueError):
                continue
            pss += p_pss
            rss += p_rss
        peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
        time.sleep(0.5)
    wall = time.perf_counter() - start
    result = {
        "exit": proc.returncode,
        "wall_s": round(wall, 1),
        "peak_pss_gib": round(peak_pss / 2**30, 3),
        "peak_rss_sum_gib": round(peak_rss / 2**30, 3),
    }
    print("peak_memory: " + json.dumps(result), file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
