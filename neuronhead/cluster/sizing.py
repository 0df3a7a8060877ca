"""How many model actors a pool gets, and what each reserves: CPUs, a GPU, torch threads.

On a 2-CPU node, an actor pool that takes every CPU hangs the job forever (the reads never get a
CPU); on GPU nodes an actor takes one GPU and one CPU. Nothing here starts Ray, so ``--engine auto``
can ask "would Ray run more than one actor here?" without importing it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PoolSizing:
    size: int
    num_cpus: float
    num_gpus: float
    torch_threads: int


def alive_node_resources() -> list[dict]:
    """Each live node's resources (``CPU``, ``GPU``, …), so pools are sized per machine, not per total."""
    import ray  # only when asked about a running cluster: `--engine auto` must not import Ray

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
