"""Run a command under a hard memory cap for its whole process tree; report wall time and peak.

On these machines the cgroup v1 memory controller is mounted at ``/sys/fs/cgroup/memory``: a child
group gets ``memory.limit_in_bytes`` (and the same swap limit where the kernel offers one), the
command's PID goes into its ``cgroup.procs`` before it starts (children inherit the group), and
``memory.max_usage_in_bytes`` is the peak of the tree, page cache included. Exceeding the cap gets the
command OOM-killed, which shows as a non-zero exit (``memory.failcnt`` counts the hits). Elsewhere use
``systemd-run --scope -p MemoryMax=…``.

    ../shared/bin/loopback-only .venv/bin/python bench/memory_cap.py --cap-gb 2 --json OUT.json -- \\
        .venv/bin/neuronhead fit --features FEATS/train --val-features FEATS/val --out runs/x
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup/memory")


def capped_run(argv: list[str], cap_bytes: int, env: dict[str, str] | None = None, cwd=None) -> dict:
    group = ROOT / f"neuronhead-cap-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(cap_bytes))
        swap = group / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(str(cap_bytes))
        start = time.perf_counter()
        # The child joins the group before exec, so every descendant is counted from its first byte.
        procs = group / "cgroup.procs"
        proc = subprocess.Popen(argv, env=env, cwd=cwd, preexec_fn=lambda: procs.write_text(str(os.getpid())))
        rc = proc.wait()
        wall = time.perf_counter() - start
        return {
            "argv": argv,
            "cap_bytes": cap_bytes,
            "returncode": rc,
            "wall_s": round(wall, 1),
            "peak_bytes": int((group / "memory.max_usage_in_bytes").read_text()),
            "failcnt": int((group / "memory.failcnt").read_text()),
        }
    finally:
        for _ in range(20):  # the group can be removed once its last process has exited
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cap-gb", type=float, required=True)
    ap.add_argument("--json", type=Path, default=None, help="append the result here")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not argv:
        ap.error("give the command after --")
    result = capped_run(argv, int(args.cap_gb * 2**30))
    result["peak_gib"] = round(result["peak_bytes"] / 2**30, 3)
    print(json.dumps(result, indent=2), flush=True)
    if args.json:
        runs = json.loads(args.json.read_text()) if args.json.exists() else []
        args.json.write_text(json.dumps([*runs, result], indent=2) + "\n")
    return result["returncode"]


if __name__ == "__main__":
    sys.exit(main())
