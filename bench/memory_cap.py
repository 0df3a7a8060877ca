"""Run a command under a hard memory cap for its whole process tree; report wall time and peak.

On these machines the cgroup v1 memory controller is mounted at ``/sys/fs/cgroup/memory``: a child
group gets ``memory.limit_in_bytes`` (and the same swap limit where the kernel offers one), the
command's PID goes into its ``cgroup.procs`` before it starts (children inherit the group), and
``memory.max_usage_in_bytes`` is the peak of the tree, page cache included. Exceeding the cap gets the
command OOM-killed, which shows as a non-zero exit; a killed child that the command survives (a Ray
worker) is counted from ``memory.oom_control`` (``oom_kills``) and also fails this script.
``peak_anon_bytes`` samples the group's anonymous memory each second (``total_rss``). Elsewhere use
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

from common import read_json, write_json

ROOT = Path("/sys/fs/cgroup/memory")


def _stat(group: Path, key: str) -> int:
    for line in (group / "memory.stat").read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def _oom_kills(group: Path) -> int:
    """Processes of the group the kernel OOM-killed (``oom_kill`` of memory.oom_control)."""
    for line in (group / "memory.oom_control").read_text().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return -1  # a kernel without the counter


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
        peak_anon = 0
        while proc.poll() is None:  # page cache fills any cap and is reclaimed: anonymous memory is not
            peak_anon = max(peak_anon, _stat(group, "total_rss"))
            time.sleep(1.0)
        wall = time.perf_counter() - start
        return {
            "argv": argv,
            "cap_bytes": cap_bytes,
            "returncode": proc.returncode,
            "wall_s": round(wall, 1),
            "peak_bytes": int((group / "memory.max_usage_in_bytes").read_text()),
            "peak_anon_bytes": peak_anon,
            "failcnt": int((group / "memory.failcnt").read_text()),
            # A process the kernel killed for the cap (a Ray worker, say) need not fail the command.
            "oom_kills": _oom_kills(group),
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
    result["peak_anon_gib"] = round(result["peak_anon_bytes"] / 2**30, 3)
    print(json.dumps(result, indent=2), flush=True)
    if args.json:
        write_json(args.json, [*read_json(args.json, []), result], indent=2)
    if result["oom_kills"] > 0:
        print(f"{result['oom_kills']} process(es) of the command were killed for the cap", file=sys.stderr)
    return result["returncode"] or (3 if result["oom_kills"] > 0 else 0)


if __name__ == "__main__":
    sys.exit(main())
