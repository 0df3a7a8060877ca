"""Run shards through a model worker: Ray Data (read → tokenize → actor pool) or the same steps in-process.

Extraction and scoring differ only in the worker class (what it computes and writes per shard); both
yield one small summary dict per finished shard, in completion order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from neuronhead.data import SourcePlan
from neuronhead.pipelines.shards import Shard, read_shard, tokenize_shards


def run_shards(
    plan: SourcePlan,
    shards: list[Shard],
    worker: Callable[..., Any],
    settings: Any,
    *,
    tokenize_kwargs: dict[str, Any],
    engine: str = "ray",
    address: str | None = None,
    num_actors: int | None = None,
) -> Iterator[dict]:
    """``worker(settings)`` is built once per actor and called with packed, tokenized shards.

    ``settings`` is a dataclass with a ``torch_threads`` field, filled in from the pool sizing when unset.
    """
    if engine == "local":
        w = worker(settings)
        for shard in shards:
            yield from w(tokenize_shards(read_shard(plan, shard), **tokenize_kwargs)).to_pylist()
        return
    if engine != "ray":
        raise ValueError(f"engine must be 'ray' or 'local', not {engine!r}")
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
