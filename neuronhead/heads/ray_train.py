"""Phase 1 as a Ray Train job: workers stream the Parquet shards through Ray Data.

The training data never has to fit in one process: standardization statistics come from a streaming
pass over the shards, and each worker iterates over its split of a ``ray.data`` dataset. Every epoch
ends with a checkpoint (safetensors + JSON), so a failed worker group restarts from the last epoch
instead of from scratch. The loop is :class:`~neuronhead.heads.probes.ProbeTrainer`, the same one the
in-process fit and the tuning trials drive.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from neuronhead.heads.phase1 import LayerProbes, grid_scores
from neuronhead.heads.probes import ProbeTrainer, class_weights, split_of
from neuronhead.heads.standardize import Standardizer
from neuronhead.store import iter_feature_shards, read_manifest, shard_files

_STATE, _META = "trainer.safetensors", "trainer.json"


def _save_checkpoint(trainer: ProbeTrainer, folder: str) -> None:
    from safetensors.torch import save_file

    tensors, meta = trainer.state()
    save_file(tensors, os.path.join(folder, _STATE))
    Path(folder, _META).write_text(json.dumps(meta))


def _load_checkpoint(trainer: ProbeTrainer, folder: str) -> None:
    from safetensors.torch import load_file

    trainer.load_state(load_file(os.path.join(folder, _STATE)), json.loads(Path(folder, _META).read_text()))


def _batch_arrays(batch, layers: list[int], mean, scale):
    """A pyarrow batch of feature rows → standardized ``x``, target and split tensors."""
    import pyarrow.compute as pc
    import torch

    from neuronhead.store import table_features

    batch = batch.filter(pc.is_null(batch["error"]))
    X = table_features(batch, layers, np.float32).reshape(batch.num_rows, len(layers), -1)
    x = (torch.from_numpy(X) - mean) / scale
    label = batch["label"].to_numpy(zero_copy_only=False)
    rows = batch["row"].to_numpy()
    return x, label, rows


def _train_loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker."""
    import ray.train
    import torch
    import torch.distributed as dist

    from neuronhead.heads.probes import ProbeSettings

    s = ProbeSettings(**config["settings"])
    torch.manual_seed(s.seed)
    L, F = len(config["layers"]), config["n_features"]
    trainer = ProbeTrainer(
        s, L, F, config["n_outputs"], config["n_rows"], class_weight=config["class_weight"]
    )
    world = ray.train.get_context().get_world_size()
    if world > 1:

        def mean_(ts):
            for t in ts:
                dist.all_reduce(t)
                t /= world

        def sum_(ts):
            for t in ts:
                dist.all_reduce(t)

        trainer.all_reduce_mean, trainer.all_reduce_sum = mean_, sum_
    ckpt = ray.train.get_checkpoint()
    resumed_from = None  # the epoch this worker group picked up from, reported so callers can tell
    if ckpt:
        with ckpt.as_directory() as d:
            _load_checkpoint(trainer, d)
        resumed_from = trainer.epoch
    mean = torch.tensor(config["mean"]).view(L, F)
    scale = torch.tensor(config["scale"]).view(L, F)
    regression = s.task == "regression"
    shard = ray.train.get_dataset_shard("train")
    go_on = trainer.epoch < s.max_epochs
    count = not regression and s.select != "loss"
    while go_on:
        for phase in ("train", "eval", "count"):
            if phase == "count":
                go_on = trainer.end_epoch()
                if go_on or not count:
                    break
            kwargs = {"local_shuffle_buffer_size": 8 * s.batch_size} if phase == "train" else {}
            for batch in shard.iter_batches(batch_size=s.batch_size, batch_format="pyarrow", **kwargs):
                x, label, rows = _batch_arrays(batch, config["layers"], mean, scale)
                if regression:
                    y = torch.from_numpy(((label - config["y_mean"]) / config["y_scale"]).astype(np.float32))
                else:
                    y = torch.from_numpy(label.astype(np.int64))
                split = torch.from_numpy(split_of(rows, s.n_splits))
                getattr(trainer, f"{phase}_batch")(x, y, split)
        if count and not go_on and trainer.all_reduce_sum:
            trainer.all_reduce_sum([trainer.conf])
        with tempfile.TemporaryDirectory() as d:
            checkpoint = None
            if ray.train.get_context().get_world_rank() == 0:
                _save_checkpoint(trainer, d)
                checkpoint = ray.train.Checkpoint.from_directory(d)
            ray.train.report(
                {
                    "epoch": trainer.epoch,
                    "heldout_loss": trainer.history[-1],
                    "done": not go_on,
                    "resumed_from": resumed_from,
                },
                checkpoint=checkpoint,
            )


def fit_probes_ray(
    features: str | os.PathLike,
    probes: LayerProbes,
    *,
    storage_path: str | os.PathLike | None = None,
    name: str = "phase1",
    num_workers: int = 1,
    use_gpu: bool = False,
    max_failures: int = 2,
    address: str | None = None,
) -> LayerProbes:
    """Fit ``probes`` (an unfitted :class:`LayerProbes`) on a feature folder with Ray Train.

    ``storage_path`` holds the checkpoints (default: a ``ray-train`` folder next to the features);
    running again with the same path and name resumes an interrupted run.
    """
    import ray
    import ray.train
    from ray.train.torch import TorchTrainer

    from neuronhead.cluster import ensure_ray

    manifest = read_manifest(features)
    layers = list(manifest["layers"])
    task = probes.task
    # Streaming statistics: inputs, and the targets' scale or class counts.
    labels: list[np.ndarray] = []

    def chunks():
        for chunk in iter_feature_shards(features, layers):
            labels.append(chunk["label"])
            yield chunk["X"]

    std = Standardizer().fit_chunks(chunks())
    y = np.concatenate(labels)
    W = std.mean_.shape[-1]
    probes.n_layers_, probes.width_, probes.standardizer_ = len(layers), W, std
    config: dict[str, Any] = {
        "settings": probes.settings().__dict__ | {"c_grid": list(probes.c_grid)},
        "layers": layers,
        "n_features": 2 * W,
        "n_rows": len(y),
        "mean": std.mean_.reshape(-1).tolist(),
        "scale": std.scale_.reshape(-1).tolist(),
        "class_weight": None,
    }
    if task == "regression":
        probes.y_mean_, probes.y_scale_ = float(y.mean()), float(y.std() or 1.0)
        config.update(n_outputs=1, y_mean=probes.y_mean_, y_scale=probes.y_scale_)
    else:
        n_out = len(manifest.get("label_names") or []) or int(y.max()) + 1
        cw = class_weights(y.astype(np.int64), n_out, probes.class_weight)
        config.update(n_outputs=n_out, class_weight=None if cw is None else cw.tolist())
    probes.n_outputs_ = config["n_outputs"]

    ensure_ray(address)
    columns = ["row", "error", "label"] + [f"layer_{i}_{p}" for i in layers for p in ("mean", "max")]
    ds = ray.data.read_parquet(shard_files(features)).select_columns(columns)
    storage = Path(storage_path or Path(features).resolve().parent / "ray-train").resolve()
    trainer = TorchTrainer(
        _train_loop,
        train_loop_config=config,
        # SPREAD: a worker per node while there are nodes enough; after a node is lost the restarted
        # group packs onto the nodes left instead of waiting for a replacement.
        scaling_config=ray.train.ScalingConfig(
            num_workers=num_workers, use_gpu=use_gpu, placement_strategy="SPREAD"
        ),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=str(storage),
            failure_config=ray.train.FailureConfig(max_failures=max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=2),
        ),
        datasets={"train": ds},
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"Ray Train run {storage / name} ended without a checkpoint: {result.error}")
    state = ProbeTrainer(probes.settings(), len(layers), 2 * W, probes.n_outputs_, len(y))
    with result.checkpoint.as_directory() as d:
        _load_checkpoint(state, d)
    scores = None
    if task == "classification" and probes.select != "loss":
        scores = grid_scores(state.conf.numpy(), probes.select, manifest.get("label_names"))
    probes.set_result(state.result(scores), split_of(np.arange(0), probes.settings().n_splits))
    probes.resumed_from_ = (result.metrics or {}).get("resumed_from")  # None: never restarted
    return probes
