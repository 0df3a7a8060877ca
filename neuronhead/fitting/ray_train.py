"""Phase 1 as a Ray Train job: each worker owns a group of layers and streams only their columns.

Layers are independent in Phase 1 (one probe per layer), so the work splits by layer, not by row: worker
``r`` of ``n`` reads ``layer_{i}_{mean,max}`` of its own layers from the shards (shared storage), shard
by shard, exactly as the one-machine streamed fit does for one layer group (:mod:`.stream`): its own
standardization pass, then seeded epochs, so a worker's probes equal the in-process fit of that group.
Its memory is one chunk plus its group's float16 values, or a memory map of them (``StreamOptions``),
never the store.

Every epoch each worker writes its trainer state (``rank-<r>.safetensors`` + ``rank-<r>.json``) into the
epoch's checkpoint, which Ray Train merges into one folder. A worker group restarted after a failure (a
killed worker, a lost node) reloads each rank's state and carries on from that epoch; because the shard
and row order is drawn from ``(seed, epoch)``, the resumed run gives the same probes as an uninterrupted
one. A worker whose layers have stopped improving waits for the others (every worker must report the
same number of times), and the driver joins the groups' results into one :class:`LayerProbes`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuronhead.fitting.stream import (
    GroupData,
    StoreRows,
    StreamOptions,
    chunk_tensors,
    count_held_out,
    joined,
    joined_standardizer,
    layer_width,
    statistics,
    train_epochs,
)
from neuronhead.heads.options import ProbeSettings
from neuronhead.heads.phase1 import LayerProbes, grid_scores
from neuronhead.heads.probes import ProbeResult, ProbeTrainer, split_of
from neuronhead.heads.standardize import Standardizer
from neuronhead.store import read_features_manifest


@dataclass(frozen=True)
class RayTrainOptions:
    """Where and how the Ray Train job runs. ``storage_path`` holds the checkpoints (default: a
    ``ray-train`` folder next to the features); running again with the same path and ``name``
    resumes an interrupted run. ``address``: the cluster to join (default: a local Ray)."""

    storage_path: str | os.PathLike | None = None
    name: str = "phase1"
    num_workers: int = 1
    max_failures: int = 2
    address: str | None = None


def layer_groups(layers: list[int], workers: int) -> list[list[int]]:
    """Contiguous groups of layers, one per worker (at most one worker per layer)."""
    n = max(1, min(workers, len(layers)))
    return [[int(x) for x in part] for part in np.array_split(np.asarray(layers), n)]


def _save_rank(folder: str, rank: int, trainer: ProbeTrainer, std: Standardizer, meta: dict) -> None:
    import torch
    from safetensors.torch import save_file

    tensors, state = trainer.state()
    _, stats = std._to_state()
    tensors = tensors | {f"std_{k}": torch.from_numpy(v) for k, v in stats.items()}
    save_file(
        {k: v.contiguous() for k, v in tensors.items()}, os.path.join(folder, f"rank-{rank}.safetensors")
    )
    Path(folder, f"rank-{rank}.json").write_text(json.dumps({"trainer": state, **meta}))


def _load_rank(folder: str, rank: int, trainer: ProbeTrainer) -> tuple[Standardizer, dict]:
    from safetensors.torch import load_file

    tensors = load_file(os.path.join(folder, f"rank-{rank}.safetensors"))
    meta = json.loads(Path(folder, f"rank-{rank}.json").read_text())
    stats = {k: tensors.pop(f"std_{k}").numpy() for k in ("mean", "scale")}
    std = Standardizer._from_state({"n": meta["rows"]}, stats)
    trainer.load_state(tensors, meta["trainer"])
    return std, meta


def _trainer(config: dict[str, Any], group: list[int]) -> ProbeTrainer:
    s = ProbeSettings(**config["settings"])
    cw = None if config["class_weight"] is None else np.asarray(config["class_weight"])
    return ProbeTrainer(
        s, len(group), 2 * config["width"], config["n_outputs"], config["n_rows"], class_weight=cw
    )


def _train_loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker: fit this rank's layer group, checkpointing every epoch."""
    import ray.train
    import torch
    import torch.distributed as dist

    ctx = ray.train.get_context()
    rank = ctx.get_world_rank()
    group = config["groups"][rank]
    trainer = _trainer(config, group)
    options = StreamOptions(**config["stream"])
    source = StoreRows(config["folder"], None if config["rows"] is None else np.asarray(config["rows"]))
    cache = options.caches(len(group), config["width"], config["n_rows"])
    data = GroupData(source, group, options, cache, config["n_rows"])
    ckpt, std, done, resumed_from = ray.train.get_checkpoint(), None, False, None
    if ckpt:
        with ckpt.as_directory() as d:
            std, meta = _load_rank(d, rank, trainer)
        done, resumed_from = meta["done"], trainer.epoch
    std = std or statistics(data)
    if cache:
        data.standardize(std)
    target = None if config["target"] is None else tuple(config["target"])
    tensors = chunk_tensors(std, trainer, target, standardized=cache)
    steps = train_epochs(data, trainer, tensors, resumed=ckpt is not None)
    while True:
        if not done and next(steps, None) is None:  # this group has stopped: count, then wait
            count_held_out(data, trainer, tensors)
            done = True
        everyone = torch.tensor([int(done)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(everyone, op=dist.ReduceOp.MIN)
        with tempfile.TemporaryDirectory() as d:
            _save_rank(d, rank, trainer, std, {"done": done, "layers": group, "rows": config["n_rows"]})
            metrics = {"epoch": trainer.epoch, "done": bool(everyone.item()), "resumed_from": resumed_from}
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))
        if everyone.item():
            return


def fit_probes_ray(
    features: str | os.PathLike,
    probes: LayerProbes,
    *,
    rows: np.ndarray | None = None,
    stream: StreamOptions | None = None,
    options: RayTrainOptions = RayTrainOptions(),
) -> LayerProbes:
    """Fit ``probes`` (an unfitted :class:`LayerProbes`) on a feature folder with Ray Train, the layers
    split over ``options.num_workers`` workers; ``rows`` (row numbers) limits the rows it trains on.

    The feature folder must be on storage every node reads: a worker that cannot read a shard fails
    naming it. The probes also record the layers each worker owned and the epoch a restarted worker
    group resumed from (:meth:`LayerProbes.note_workers`).
    """
    import ray.train
    from ray.train.torch import TorchTrainer

    from neuronhead.cluster.connect import ensure_ray

    manifest = read_features_manifest(features)
    layers = list(manifest.layers)
    source = StoreRows(features, rows)
    row_ids, labels = source.targets()
    groups = layer_groups(layers, options.num_workers)
    config = _config(probes, manifest, source, row_ids, labels, groups, stream or StreamOptions())
    ensure_ray(options.address)
    storage = Path(options.storage_path or Path(features).resolve().parent / "ray-train").resolve()
    trainer = TorchTrainer(
        _train_loop,
        train_loop_config=config,
        # SPREAD: a worker per node while there are nodes enough; after a node is lost the restarted
        # group packs onto the nodes left instead of waiting for a replacement.
        scaling_config=ray.train.ScalingConfig(
            num_workers=len(config["groups"]), placement_strategy="SPREAD"
        ),
        run_config=ray.train.RunConfig(
            name=options.name,
            storage_path=str(storage),
            failure_config=ray.train.FailureConfig(max_failures=options.max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2),
        ),
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(
            f"Ray Train run {storage / options.name} ended without a checkpoint: {result.error}"
        )
    with result.checkpoint.as_directory() as d:
        joined_result, std = _joined_ranks(config, d, manifest.label_names)
    probes.set_result(joined_result, split_of(row_ids, probes.settings().n_splits), std)
    # resumed_from None: never restarted
    return probes.note_workers(config["groups"], (result.metrics or {}).get("resumed_from"))


def _config(probes, manifest, source: StoreRows, rows, labels, groups, stream: StreamOptions) -> dict:
    """What every worker needs, JSON-able: settings, targets' scale or class weights, its layers.
    The targets are prepared by the estimator, as its in-memory fit prepares them."""
    _, cw = probes.fit_targets(labels, len(manifest.label_names or []) or None)
    target = probes.target_standardization()
    return {
        "settings": asdict(probes.settings()),
        "folder": str(Path(source.folder).resolve()),
        "rows": None if source.train is None else [int(r) for r in source.train],
        "groups": groups,
        "width": layer_width(source.folder, groups[0][0]),
        "n_rows": len(rows),
        "stream": asdict(stream),
        "n_outputs": probes.n_outputs_,
        "class_weight": None if cw is None else cw.tolist(),
        "target": None if target is None else list(target),
    }


def _joined_ranks(config: dict, folder: str, label_names) -> tuple[ProbeResult, Standardizer]:
    """Each rank's final trainer state → one result over all layers, in layer order, and the
    statistics they were standardized with."""
    parts, stds = [], []
    for rank, group in enumerate(config["groups"]):
        trainer = _trainer(config, group)
        std, _ = _load_rank(folder, rank, trainer)
        scores = None
        if trainer.s.task == "classification" and trainer.s.select != "loss":
            scores = grid_scores(trainer.conf.numpy(), trainer.s.select, label_names)
        parts.append(trainer.result(scores))
        stds.append(std)
    return joined(parts), joined_standardizer(stds)
