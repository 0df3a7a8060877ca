"""The part of a sharded job that extraction and scoring share: run what is missing, account for it.

Both jobs plan shards, write a manifest, then hand the shards not yet on disk to ``run_shards``,
record each summary in ``shard_stats.json`` as it arrives (so an interrupted job keeps what it
measured), and check at the end that every planned shard exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from neuronhead.data import SourcePlan
from neuronhead.models.loading import portable_tokenizer
from neuronhead.pipelines.options import Engine
from neuronhead.pipelines.runner import ShardJob, run_shards
from neuronhead.pipelines.shards import STATS, Shard, load_stats
from neuronhead.store import shard_name, write_json


@dataclass(frozen=True)
class Ran:
    stats: dict[str, dict]  # every shard's summary, from earlier runs too
    rows: int  # rows this run computed
    seconds: float


def run_missing(
    out: Path,
    plan: SourcePlan,
    shards: list[Shard],
    worker: Callable[..., Any],
    settings: Any,
    *,
    engine: Engine,
    desc: str,
    progress: bool = True,
) -> Ran:
    """Run the shards whose files are missing; fail if any planned shard is still missing after.

    ``settings`` (the worker's) carries ``model_path``, ``capture.max_length`` and
    ``compute.trust_remote_code``, which the tokenize stage needs too.
    """
    pending = [s for s in shards if not (out / shard_name(s.shard_id)).exists()]
    rows = sum(s.count for s in pending)
    stats = load_stats(out)
    bar = tqdm(total=rows, unit="text", desc=desc, disable=not progress, dynamic_ncols=True)
    t0 = time.perf_counter()
    for summary in _run(plan, pending, worker, settings, engine):
        stats[str(summary["shard"])] = summary
        write_json(stats, out / STATS)
        bar.update(summary["rows"])
    bar.close()
    seconds = time.perf_counter() - t0
    missing = [s.shard_id for s in shards if not (out / shard_name(s.shard_id)).exists()]
    if missing:
        raise RuntimeError(f"{len(missing)} shards were not written (first: {missing[0]}); rerun to resume")
    return Ran(stats, rows, seconds)


def _run(
    plan: SourcePlan, pending: list[Shard], worker: Callable[..., Any], settings: Any, engine: Engine
) -> Iterator[dict]:
    """The pending shards' summaries; nothing to run starts nothing (no tokenizer, no Ray)."""
    if not pending:
        return iter(())
    tokenizer = portable_tokenizer(
        settings.model_path, settings.capture.max_length, settings.compute.trust_remote_code
    )
    return run_shards(ShardJob(plan, pending, worker, settings, tokenizer), engine)
