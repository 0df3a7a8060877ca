"""The Ray engine: model actors fed by read-and-tokenize tasks, on Ray core.

The model actors are created first, so their start-up (a process, the torch import, the model load)
overlaps with the reading and tokenizing of the first shards; each actor then has ``CALLS_PER_ACTOR``
shards queued, so it never waits on the driver between two shards. Read-and-tokenize tasks run on the
CPUs the actors leave free, up to ``READY_PER_ACTOR`` shards ahead per actor, which bounds the object
store whatever the job's size. Each actor computes and writes its shards itself and returns only the
small summaries.

Not Ray Data: its executor starts coordinator actors of its own, creates the model actors only after
them, and polls in the driver for the whole run (docs/decisions.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from neuronhead.pipelines.shards import prepare_shard, unpack

if TYPE_CHECKING:
    from neuronhead.cluster.sizing import PoolSizing
    from neuronhead.pipelines.runner import ShardJob

CALLS_PER_ACTOR = 2  # shards queued on each actor: the next one is there when the current one ends
READY_PER_ACTOR = 16  # shards read and tokenized ahead per actor (4,096 tweets: 2.5 MB prepared)


class ModelActor:
    """One model worker in its own process: ``worker(settings)`` built once, then ``run`` per shard.

    An error while building the worker (a model that does not load) is kept and raised by ``run``, so it
    reaches the driver as itself. Raised from ``__init__``, Ray would report a dead actor, which the
    driver would take for a lost node and retry on a new pool.
    """

    def __init__(self, worker: Callable[[Any], Any], settings: Any) -> None:
        self.worker, self.failed = None, None
        try:
            self.worker = worker(settings)
        except Exception as exc:  # noqa: BLE001 - raised again by ``run``, in the driver
            self.failed = exc

    def run(self, table: pa.Table) -> list[dict]:
        """Compute and write each shard of ``table`` (one, as prepared); their summaries."""
        if self.failed is not None:
            raise self.failed
        return [self.worker.finish(self.worker.compute(shard)) for shard in unpack(table)]


def run_pool(job: ShardJob, sizing: PoolSizing) -> Iterator[dict]:
    """Every shard of ``job`` through ``sizing.size`` model actors; summaries in completion order.

    Actors are not restarted by Ray (``max_restarts=0``): a restarted actor would be rebuilt from
    constructor arguments kept in the object store, which can be lost with the node that held them
    (ray-project/ray#53727). A lost actor fails its calls instead, and ``runner.run_shards`` reruns the
    unfinished shards on a fresh pool, with freshly sent arguments. The actors are stopped when the pass
    ends, however it ends.
    """
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    # The actors' CPUs (and GPUs) are reserved before any read task is sent, spread over the nodes:
    # placed as they start, actors went wherever the read tasks had left a CPU free, two on one node.
    bundle = {"CPU": sizing.num_cpus} | ({"GPU": sizing.num_gpus} if sizing.num_gpus else {})
    group = placement_group([bundle] * sizing.size, strategy="SPREAD")
    actors: list = []
    model_actor = ray.remote(ModelActor)
    try:
        ray.get(group.ready())
        actors = [
            model_actor.options(
                num_cpus=sizing.num_cpus,
                num_gpus=sizing.num_gpus or None,
                max_restarts=0,
                scheduling_strategy=PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=i),
            ).remote(job.worker, job.settings)
            for i in range(sizing.size)
        ]
        yield from _feed(job, actors)
    finally:
        for a in actors:
            ray.kill(a)
        remove_placement_group(group)


def _feed(job: ShardJob, actors: list) -> Iterator[dict]:
    """Keep every actor ``CALLS_PER_ACTOR`` shards deep and ``READY_PER_ACTOR`` prepared shards ahead."""
    import ray

    prepare = ray.remote(prepare_shard).options(num_cpus=1)
    plan, tokenizer = ray.put(job.plan), ray.put(job.tokenizer)  # sent once, not with every task
    todo, ready, calls = iter(job.shards), deque(), {}

    def call(a: Any) -> None:
        while len(ready) < READY_PER_ACTOR * len(actors) and (shard := next(todo, None)) is not None:
            ready.append(prepare.remote(plan, shard, tokenizer))
        if ready:
            calls[a.run.remote(ready.popleft())] = a

    for a in actors * CALLS_PER_ACTOR:
        call(a)
    while calls:
        [done], _ = ray.wait(list(calls))
        a = calls.pop(done)
        summaries = ray.get(done)
        call(a)
        yield from summaries
