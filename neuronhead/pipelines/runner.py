"""Run shards through a model worker: Ray Data (read → tokenize → actor pool) or the same steps in-process.

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
from typing import Any

import pyarrow as pa

from neuronhead.data import SourcePlan
from neuronhead.pipelines.shards import Shard, read_shard, tokenize_shards

ENGINES = ("auto", "ray", "local")
READ_AHEAD = 2  # shards read and tokenized ahead of the model in the in-process engine


def resolve_engine(engine: str, address: str | None = None) -> str:
    """``auto``: Ray when it adds something here, else this process.

    Ray adds a cluster to join (``address``, ``RAY_ADDRESS`` inside ``ray job submit``, or a Ray this
    process already started), or more than one model actor on this machine (a GPU, or enough cores for
    two CPU actors). Otherwise one model runs either way, and this process skips Ray's start-up: no
    daemons, no actor process importing torch again (README, "Ray").
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine != "auto":
        return engine
    ray = sys.modules.get("ray")
    if address or os.environ.get("RAY_ADDRESS") or (ray is not None and ray.is_initialized()):
        return "ray"
    import torch

    from neuronhead.cluster.connect import pool_sizing

    if torch.cuda.is_available():
        return "ray"
    return "ray" if pool_sizing(resources={"CPU": os.cpu_count() or 1}).size > 1 else "local"


def _prepared(plan: SourcePlan, shard: Shard, tokenize_kwargs: dict[str, Any]) -> pa.Table:
    return tokenize_shards(read_shard(plan, shard), **tokenize_kwargs)


def run_local(
    plan: SourcePlan,
    shards: list[Shard],
    worker: Callable[..., Any],
    settings: Any,
    tokenize_kwargs: dict[str, Any],
) -> Iterator[dict]:
    """The same steps in this process, with reading and tokenizing a thread ahead of the model.

    The first shards are read while the model loads; the tokenizer and the file readers run in C++ and
    Rust, largely outside the GIL, so they overlap the forward passes.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="neuronhead-read") as reader:
        todo, ahead = iter(shards), deque()

        def read_next() -> None:
            shard = next(todo, None)
            if shard is not None:
                ahead.append(reader.submit(_prepared, plan, shard, tokenize_kwargs))

        for _ in range(READ_AHEAD):
            read_next()
        w = worker(settings)
        while ahead:
            table = ahead.popleft().result()
            read_next()
            yield from w(table).to_pylist()


def run_shards(
    plan: SourcePlan,
    shards: list[Shard],
    worker: Callable[..., Any],
    settings: Any,
    *,
    tokenize_kwargs: dict[str, Any],
    engine: str = "auto",
    address: str | None = None,
    num_actors: int | None = None,
) -> Iterator[dict]:
    """``worker(settings)`` is built once per actor and called with packed, tokenized shards.

    ``settings`` is a dataclass with a ``torch_threads`` field, filled in from the pool sizing when unset.
    """
    engine = resolve_engine(engine, address)
    if engine == "local":
        yield from run_local(plan, shards, worker, settings, tokenize_kwargs)
        return
    import ray

    from neuronhead.cluster import ensure_ray, pool_sizing
    from neuronhead.cluster.storage import check_shared_storage
    from neuronhead.pipelines.datasource import ShardDatasource

    ensure_ray(address)
    # Actors on other nodes read the inputs and model and write shards the driver reads back.
    check_shared_storage(settings.out, [settings.model_path] + [f.path for f in plan.files])
    sizing = pool_sizing(num_actors)
    settings = dataclasses.replace(settings, torch_threads=settings.torch_threads or sizing.torch_threads)
    ds = ray.data.read_datasource(ShardDatasource(plan, shards), override_num_blocks=len(shards))
    ds = ds.map_batches(tokenize_shards, batch_size=1, batch_format="pyarrow", fn_kwargs=tokenize_kwargs)
    ds = ds.map_batches(
        worker,
        fn_constructor_kwargs={"settings": settings},
        batch_size=1,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=sizing.size),
        num_cpus=sizing.num_cpus,
        num_gpus=sizing.num_gpus or None,
    )
    for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        yield from batch.to_pylist()
