"""A head on disk: ``head.safetensors`` (arrays) + ``head.json`` (everything else). Never pickle.

Loading checks the format version, that every array the JSON promises is present with the right
shape, and names the file and the problem when something is off.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from neuronhead import __version__
from neuronhead.heads.dense import DenseHead
from neuronhead.heads.head import NeuronHead
from neuronhead.store import write_json

FORMAT = "neuronhead.head/1"
WEIGHTS, META = "head.safetensors", "head.json"


class HeadError(ValueError):
    """A head folder that cannot be used, with the reason."""


def extraction_info(manifest: dict[str, Any]) -> dict[str, Any]:
    """What a head keeps of its features' extraction: scoring must read texts the same way."""
    info = {k: manifest.get(k) for k in ("pool_special_tokens", "max_length", "pooling")}
    return info | {"normalize": manifest.get("normalize") or "none"}


def save_head(head: NeuronHead, folder: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    """Write the head atomically (each file written then renamed); ``meta`` adds provenance."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "z_mean": np.asarray(head.z_mean_, np.float32),
        "z_scale": np.asarray(head.z_scale_, np.float32),
    }
    for layer in head.layers_:
        arrays[f"layer{layer}.neurons"] = np.asarray(head.neurons_[layer], np.int64)
        arrays[f"layer{layer}.mean"] = np.asarray(head.mean_[layer], np.float32)
        arrays[f"layer{layer}.scale"] = np.asarray(head.scale_[layer], np.float32)
        arrays[f"layer{layer}.weight"] = np.asarray(head.probe_weight_[layer], np.float32)
        arrays[f"layer{layer}.bias"] = np.asarray(head.probe_bias_[layer], np.float32)
    for name, value in head.net_.state_dict().items():
        arrays[f"net.{name}"] = value.detach().cpu().numpy()
    info = {
        "format": FORMAT,
        "neuronhead_version": __version__,
        "task": head.task,
        "params": head.get_params(),
        "layers": head.layers_,
        "deepest_layer": head.deepest_layer_,
        "ffn_width": head.ffn_width_,
        "n_neurons": head.n_neurons_,
        "neuron_fraction": head.neuron_fraction_,
        "n_outputs": head.n_outputs_,
        "label_names": head.label_names_,
        "net": {"n_in": int(len(head.z_mean_)), "width": net_width(head), "dropout": head.dropout},
        "phase2": {k: v for k, v in head.phase2_.items() if k != "history"},
        "phase1": head.phase1_,
        **({"y_mean": head.y_mean_, "y_scale": head.y_scale_} if head.task == "regression" else {}),
        **(meta or {}),
    }
    # safetensors writes a non-contiguous array's memory as is (silently scrambled): copy first.
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    tmp = folder / f".{WEIGHTS}.tmp"
    save_file(arrays, str(tmp), metadata={"format": FORMAT})
    os.replace(tmp, folder / WEIGHTS)
    write_json(info, folder / META)
    return folder


def net_width(head: NeuronHead) -> int:
    """The saved network's hidden width: a ``"probe"`` head's Phase 2 is a linear identity."""
    return 0 if head.variant == "probe" else head.width


def read_head_info(folder: str | os.PathLike) -> dict[str, Any]:
    path = Path(folder) / META
    if not path.is_file():
        raise HeadError(f"{folder}: not a head folder ({META} missing)")
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HeadError(f"{path}: not valid JSON ({e})") from None
    if info.get("format") != FORMAT:
        raise HeadError(f"{path}: format {info.get('format')!r}, this neuronhead reads {FORMAT!r}")
    return info


def load_head(folder: str | os.PathLike) -> tuple[NeuronHead, dict[str, Any]]:
    """The head and its JSON record; raises :class:`HeadError` naming what is wrong."""
    folder = Path(folder)
    info = read_head_info(folder)
    path = folder / WEIGHTS
    try:
        arrays = load_file(str(path))
    except (FileNotFoundError, SafetensorError, OSError) as e:
        raise HeadError(f"{path}: cannot read weights ({e})") from None
    return build_head(info, arrays, path)


def head_bytes(folder: str | os.PathLike) -> dict[str, Any]:
    """A head as JSON + raw safetensors bytes: what a scoring job ships to workers on other nodes."""
    folder = Path(folder)
    info = read_head_info(folder)
    try:
        weights = (folder / WEIGHTS).read_bytes()
    except OSError as e:
        raise HeadError(f"{folder / WEIGHTS}: cannot read weights ({e})") from None
    return {"info": info, "weights": weights, "where": str(folder)}


def head_from_bytes(blob: dict[str, Any]) -> tuple[NeuronHead, dict[str, Any]]:
    from safetensors.numpy import load

    where = Path(blob["where"]) / WEIGHTS
    try:
        arrays = load(blob["weights"])
    except (SafetensorError, OSError) as e:
        raise HeadError(f"{where}: cannot read weights ({e})") from None
    return build_head(blob["info"], arrays, where)


def build_head(info: dict[str, Any], arrays: dict[str, np.ndarray], path: Path) -> tuple[NeuronHead, dict]:
    """A :class:`NeuronHead` from its JSON record and arrays, every shape checked against the record."""
    params = dict(info["params"])
    head = NeuronHead(**params)
    head.layers_ = [int(x) for x in info["layers"]]
    head.deepest_layer_ = int(info["deepest_layer"])
    head.ffn_width_ = int(info["ffn_width"])
    head.n_outputs_ = int(info["n_outputs"])
    head.label_names_ = info.get("label_names")
    head.n_neurons_ = int(info["n_neurons"])
    head.neuron_fraction_ = float(info["neuron_fraction"])
    head.neurons_, head.mean_, head.scale_, head.probe_weight_, head.probe_bias_ = {}, {}, {}, {}, {}

    def need(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in arrays:
            raise HeadError(f"{path}: array {name!r} missing")
        if tuple(arrays[name].shape) != shape:
            raise HeadError(f"{path}: array {name!r} has shape {arrays[name].shape}, expected {shape}")
        return arrays[name]

    for layer in head.layers_:
        if f"layer{layer}.neurons" not in arrays:
            raise HeadError(f"{path}: array 'layer{layer}.neurons' missing")
        k = len(arrays[f"layer{layer}.neurons"])
        idx = arrays[f"layer{layer}.neurons"]
        if k and (idx.min() < 0 or idx.max() >= head.ffn_width_):
            raise HeadError(f"{path}: layer {layer} neuron indices outside 0..{head.ffn_width_ - 1}")
        head.neurons_[layer] = idx
        head.mean_[layer] = need(f"layer{layer}.mean", (2, k))
        head.scale_[layer] = need(f"layer{layer}.scale", (2, k))
        head.probe_weight_[layer] = need(f"layer{layer}.weight", (head.n_outputs_, 2 * k))
        head.probe_bias_[layer] = need(f"layer{layer}.bias", (head.n_outputs_,))
    n_in = int(info["net"]["n_in"])
    head.z_mean_ = need("z_mean", (n_in,))
    head.z_scale_ = need("z_scale", (n_in,))
    net = DenseHead(n_in, int(info["net"]["width"]), head.n_outputs_, float(info["net"]["dropout"]))
    state = {k[4:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("net.")}
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise HeadError(f"{path}: network weights do not match head.json ({e})") from None
    head.net_ = net.eval()
    head.phase2_ = info.get("phase2", {})
    head.phase1_ = info.get("phase1", {})
    if head.task == "regression":
        head.y_mean_, head.y_scale_ = float(info["y_mean"]), float(info["y_scale"])
    return head, info
