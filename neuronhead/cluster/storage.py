"""Check, before a cluster job starts, that every node sees the same files as the driver.

Model actors on worker nodes read the inputs, heads and model themselves and write their shards
straight into the output folder, and the driver reads those shards back. That only works when all of
these live on storage every node mounts (NFS, a cloud filestore, a bucket mounted with a FUSE driver).
Without the check, a node with a private disk would write shards the driver never sees and the job
would fail at the end with missing rows; with it, the job refuses at once and names the node and path.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import ray


class StorageError(OSError):
    """A path the job needs is not the same on every node."""


def _probe(write_dir: str, token_file: str, token: str, read_paths: list[str], node: str):
    """Runs on node ``node``: what it cannot see or write, and the file it wrote (None if it could not)."""
    problems = []
    try:
        with open(token_file) as fh:
            if fh.read() != token:
                problems.append(f"{token_file} has other contents there")
    except OSError as e:
        problems.append(f"cannot read {token_file}, which the driver just wrote ({e.strerror})")
    back = f"{token_file}.{node}"  # per node: hostnames and PIDs can repeat across containers
    try:
        with open(back, "w") as fh:
            fh.write(token)
    except OSError as e:
        problems.append(f"cannot write into {write_dir} ({e.strerror})")
        back = None
    problems += [f"{p} does not exist there" for p in read_paths if not os.path.exists(p)]
    return problems, back


def check_shared_storage(write_dir: str | os.PathLike, read_paths: list[str] | None = None) -> int:
    """Raise :class:`StorageError` unless every live node that runs work sees ``write_dir`` as the
    driver does (reads the driver's file, writes one the driver reads) and has each of ``read_paths``.

    Returns the number of nodes checked; a single-node cluster is not checked (0).
    """
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [
        n
        for n in ray.nodes()
        if n.get("Alive") and (n["Resources"].get("CPU", 0) > 0 or n["Resources"].get("GPU", 0) > 0)
    ]
    driver_node = ray.get_runtime_context().get_node_id()
    if all(n["NodeID"] == driver_node for n in nodes):  # one machine: nothing to share
        return 0
    write_dir = Path(write_dir).resolve()
    write_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    token_file = write_dir / f".nh-storage-check-{token[:8]}"
    token_file.write_text(token)
    reads = [str(Path(p).resolve()) for p in read_paths or [] if Path(p).exists()]
    probe = ray.remote(num_cpus=0, max_retries=0)(_probe)
    refs = [
        probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(
            str(write_dir), str(token_file), token, reads, n["NodeID"][:16]
        )
        for n in nodes
    ]
    failures = []
    try:
        for n, ref in zip(nodes, refs, strict=True):
            problems, wrote = ray.get(ref, timeout=120)
            if wrote is not None:
                if not Path(wrote).exists():
                    problems.append(f"a file it wrote into {write_dir} is not visible to the driver")
                Path(wrote).unlink(missing_ok=True)
            if problems:
                failures.append(f"node {n['NodeManagerAddress']}: " + "; ".join(problems))
    finally:
        token_file.unlink(missing_ok=True)
    if failures:
        raise StorageError(
            f"{write_dir} is not shared storage: the cluster's nodes do not see the same files.\n  "
            + "\n  ".join(failures)
            + "\nPut features, heads, inputs and outputs on a filesystem every node mounts at the same "
            "path (NFS, a cloud filestore, a bucket through a FUSE mount); see docs/cluster.md."
        )
    return len(refs)
