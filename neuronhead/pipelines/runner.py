"""Run shards through a model worker: a Ray actor pool (``actor_pool``) or the same steps in-process.

Extraction and scoring differ only in the worker class (what it computes and writes per shard); both
yield one small summary dict per finished shard, in completion order.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from neuronhead.cluster.engines import choose_engine, joins_cluster
from neuronhead.cluster.sizing import pool_sizing
from neuronhead.data import SourcePlan
from neuronhead.models.tokens import PortableTokenizer
from neuronhead.pipelines.options import Engine
from neuronhead.pipelines.shards import Shard, prepare_shard, unpack

READ_AHEAD = 2  # shards read and tokenized ahead of the model in the in-process engine
POOL_ATTEMPTS = 4  # Ray passes over the unfinished shards before a lost worker fails the job


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    """Ray's errors for a worker, actor, node or object that went away (not a bug in our code)."""
    from ray import exceptions as rx

    return (rx.RayActorError, rx.WorkerCrashedError, rx.NodeDiedError, rx.ObjectLostError)


def resolve_engine(engine: str, address: str | None = None) -> str:
    """The pipelines' engine by :func:`~neuronhead.cluster.engines.choose_engine`: a Ray this process
    started counts as a cluster to join, and Ray pays for itself with more than one model actor on
    this machine (a GPU, or enough cores for two CPU actors). Otherwise one model runs either way, and
    this process skips Ray's start-up: no daemons, no actor process importing torch again."""
    return choose_engine(
        engine, joining=joins_cluster(address, started_here_counts=True), ray_pays=_several_actors
    )


def _several_actors() -> bool:
    import torch

    if torch.cuda.is_available():
        return True
    return pool_sizing(resources={"CPU": os.cpu_count() or 1}).size > 1


@dataclass(frozen=True)
class ShardJob:
    """Shards of ``plan`` for ``worker(settings)``, built once per actor (or once in-process) and
    called with packed shards tokenized by ``tokenizer`` (in a separate stage, without torch).

    ``settings`` is a dataclass with a ``torch_threads`` field, filled in from the pool sizing when unset.
    """

    plan: SourcePlan
    shards: list[Shard]
    worker: Callable[..., Any]
    settings: Any
    tokenizer: PortableTokenizer

    def pending(self, done: set[int]) -> ShardJob:
        return dataclasses.replace(self, shards=[s for s in self.shards if s.shard_id not in done])


def run_local(job: ShardJob) -> Iterator[dict]:
    """The same steps in this process, as three overlapping stages: read, model, write.

    A reader thread reads and tokenizes ``READ_AHEAD`` shards ahead (the first ones while the model
    loads); the model runs here; a writer thread finishes each shard (conversion, compression, the
    atomic write) while the next one goes through the model. The tokenizer, Arrow and zstd run in
    native code, largely outside the GIL, so the stages overlap. At most one finished-but-unwritten
    shard is held.
    """
    with (
        ThreadPoolExecutor(1, thread_name_prefix="neuronhead-read") as reader,
        ThreadPoolExecutor(1, thread_name_prefix="neuronhead-write") as writer,
    ):
        todo, ahead = iter(job.shards), deque()

        def read_next() -> None:
            shard = next(todo, None)
            if shard is not None:
                ahead.append(reader.submit(prepare_shard, job.plan, shard, job.tokenizer))

        for _ in range(READ_AHEAD):
            read_next()
        w = job.worker(job.settings)
        writing = None
        while ahead:
            table = ahead.popleft().result()
            read_next()
            for packed in unpack(table):
                computed = w.compute(packed)
                if writing is not None:
                    yield writing.result()
                writing = writer.submit(w.finish, computed)
        if writing is not None:
            yield writing.result()


def run_shards(job: ShardJob, engine: Engine = Engine()) -> Iterator[dict]:
    """Every shard's summary, in completion order, from this process or a Ray actor pool."""
    address = engine.address
    if resolve_engine(engine.engine, address) == "local":
        yield from run_local(job)
        return

    from neuronhead.cluster.connect import ensure_ray
    from neuronhead.cluster.storage import check_shared_storage
    from neuronhead.pipelines.actor_pool import run_pool

    ensure_ray(address)
    # Actors on other nodes read the inputs and model and write shards the driver reads back.
    settings = job.settings
    check_shared_storage(settings.out, [settings.model_path] + [f.path for f in job.plan.files])
    sizing = pool_sizing(engine.num_actors)
    threads = settings.torch_threads or sizing.torch_threads
    job = dataclasses.replace(job, settings=dataclasses.replace(settings, torch_threads=threads))
    done: set[int] = set()
    for attempt in range(POOL_ATTEMPTS):
        try:
            for summary in run_pool(job.pending(done), sizing):
                done.add(summary["shard"])
                yield summary
            return
        except _lost_worker_errors() as exc:
            if attempt + 1 == POOL_ATTEMPTS:
                raise
            left = len(job.shards) - len(done)
            print(f"neuronhead: a model worker was lost ({type(exc).__name__}); "
                  f"rerunning the {left} unfinished shards on a new pool", file=sys.stderr)  # fmt: skip
