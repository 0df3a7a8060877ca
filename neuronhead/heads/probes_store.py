"""Save and load a fitted Phase 1 (:class:`LayerProbes`) as safetensors + JSON.

A tuning search fits Phase 1 once and keeps it next to its results, so a resumed or repeated search
reuses it instead of refitting (minutes on TweetEval sentiment). Like heads, nothing here unpickles.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from neuronhead.heads.phase1 import LayerProbes
from neuronhead.heads.probes import ProbeResult
from neuronhead.heads.standardize import Standardizer
from neuronhead.store import write_atomic, write_json

FORMAT = "neuronhead.probes/1"
_PARAMS = (
    "folds",
    "c_grid",
    "l1",
    "lr",
    "batch_size",
    "max_epochs",
    "patience",
    "class_weight",
    "seed",
    "select",
)
_ARRAYS = (
    "grid_weight",
    "grid_bias",
    "grid_loss",
    "grid_score",
    "c",
    "heldout_loss",
    "fold_weight",
    "fold_bias",
)


def save_probes(probes: LayerProbes, folder: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write ``probes.safetensors`` and ``probes.json`` into ``folder`` (the JSON last, atomically)."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "mean": probes.standardizer_.mean_,
        "scale": probes.standardizer_.scale_,
        "split": probes.split_,
        "grid_weight": probes.grid_weight_,
        "grid_bias": probes.grid_bias_,
        "grid_loss": probes.grid_loss_,
        "grid_score": probes.grid_score_,
        "c": probes.c_,
        "heldout_loss": probes.heldout_loss_,
        "fold_weight": probes.fold_weight_,
        "fold_bias": probes.fold_bias_,
    }
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}  # safetensors needs contiguous
    write_atomic(folder / "probes.safetensors", lambda tmp: save_file(arrays, str(tmp)))
    meta = {
        "format": FORMAT,
        "task": probes.task,
        "params": {k: getattr(probes, k) for k in _PARAMS},
        "n_layers": probes.n_layers_,
        "width": probes.width_,
        "n_outputs": probes.n_outputs_,
        "epochs": probes.epochs_,
        "history": probes.history_,
        "y_mean": getattr(probes, "y_mean_", None),
        "y_scale": getattr(probes, "y_scale_", None),
        **(extra or {}),
    }
    write_json(meta, folder / "probes.json")
    return folder


def read_probes_info(folder: str | os.PathLike) -> dict | None:
    """The JSON half, or None when the folder holds no complete Phase 1."""
    path = Path(folder) / "probes.json"
    if not path.is_file() or not (Path(folder) / "probes.safetensors").is_file():
        return None
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a neuronhead Phase-1 file (format {meta.get('format')!r})")
    return meta


def load_probes(folder: str | os.PathLike) -> LayerProbes:
    from safetensors.numpy import load_file

    meta = read_probes_info(folder)
    if meta is None:
        raise FileNotFoundError(f"{folder}: no probes.json + probes.safetensors")
    a = load_file(str(Path(folder) / "probes.safetensors"))
    params = dict(meta["params"])
    params["c_grid"] = tuple(params["c_grid"])
    probes = LayerProbes(meta["task"], **params)
    probes.n_layers_, probes.width_, probes.n_outputs_ = meta["n_layers"], meta["width"], meta["n_outputs"]
    std = Standardizer()
    std.mean_, std.scale_ = a["mean"], a["scale"]
    probes.standardizer_ = std
    if meta.get("y_mean") is not None:
        probes.y_mean_, probes.y_scale_ = meta["y_mean"], meta["y_scale"]
    res = ProbeResult(
        **{k: a[k] for k in _ARRAYS},
        epochs=meta["epochs"],
        history=meta["history"],
    )
    return probes.set_result(res, a["split"])
