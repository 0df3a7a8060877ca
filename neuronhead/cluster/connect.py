"""Start or join Ray, and size actor pools so they never starve the read and write tasks.

On a 2-CPU node, an actor pool that takes every CPU hangs the dataset forever (the reads never get a
CPU); on GPU nodes an actor takes one GPU and one CPU. Everything Ray binds locally stays on
127.0.0.1 and the dashboard is off unless asked for.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ray


def default_temp_dir() -> str:
    """A Ray temp dir this user owns (Ray's default is shared by everyone under the system temp dir)."""
    return str(Path(tempfile.gettempdir()) / f"neuronhead-ray-{os.getuid()}")


def ensure_ray(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    dashboard: bool = False,
    dashboard_host: str = "127.0.0.1",
    temp_dir: str | None = None,
) -> None:
    """Connect once: to ``address`` when given, else a fresh in-process local instance.

    Inside a Ray job (``ray job submit``) Ray sets ``RAY_ADDRESS``: the job then uses its cluster.
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DISABLE_DOCKER_CPU_WARNING", "1")
    # Ray renices its workers to 15; the model actors *are* the work here, and at nice 15 they lose
    # the CPU to the driver, raylet and GCS polling (measured: 0.76 → see docs/benchmarks.md).
    os.environ.setdefault("RAY_worker_niceness", "0")
    common = {"logging_level": logging.WARNING, "log_to_driver": True}
    if address:
        ray.init(address=address, **common)
        quiet_ray_data()
        return
    ray.init(
        address="local",  # always a fresh instance: a stale cluster file cannot break it
        num_cpus=num_cpus,
        include_dashboard=dashboard,
        dashboard_host=dashboard_host,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp_dir or default_temp_dir(),
        **common,
    )
    quiet_ray_data()


def quiet_ray_data() -> None:
    """neuronhead shows its own progress; Ray Data's bars and INFO lines would interleave with it."""
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


@dataclass(frozen=True)
class PoolSizing:
    size: int
    num_cpus: float
    num_gpus: float
    torch_threads: int


def alive_node_resources() -> list[dict]:
    """Each live node's resources (``CPU``, ``GPU``, …), so pools are sized per machine, not per total."""
    return [n["Resources"] for n in ray.nodes() if n.get("Alive")]


def pool_sizing(
    requested: int | None = None, resources: dict | None = None, nodes: list[dict] | None = None
) -> PoolSizing:
    """How many model actors, and what each reserves.

    GPUs: one actor per GPU. CPU only, on each node: leave one CPU to the read/tokenize tasks; each actor
    reserves one CPU and runs torch on its share of that node's cores (a 2-CPU machine: one actor, two
    threads). On a cluster the per-node pools add up, so every worker node gets actors of its own; a
    head started with ``--num-cpus=0`` gets none.
    """
    if nodes is None:
        nodes = [resources] if resources is not None else alive_node_resources()
    cpu_nodes = [int(n.get("CPU", 0)) for n in nodes if n.get("CPU", 0) >= 1]
    cpus = sum(cpu_nodes) or 1
    gpus = int(sum(n.get("GPU", 0) for n in nodes))
    if gpus:
        size = min(requested or gpus, gpus)
        return PoolSizing(size, 1.0, 1.0, max(1, (cpus - size) // size or 1))
    per_node = [max(1, min(c // 4, c - 1)) if c > 1 else 1 for c in cpu_nodes] or [1]
    size = requested or sum(per_node)  # big matmuls scale across threads better than across actors
    biggest = max(cpu_nodes or [1])
    if len(per_node) == 1:
        size = max(1, min(size, cpus - 1)) if cpus > 1 else 1
        num_cpus = 1.0 if cpus > size else 0.5
        return PoolSizing(size, num_cpus, 0.0, max(1, cpus // size))
    # several nodes: one CPU per actor, threads for the share of the largest node's cores each gets
    threads = max(1, biggest // max(per_node))
    return PoolSizing(size, 1.0, 0.0, threads)
