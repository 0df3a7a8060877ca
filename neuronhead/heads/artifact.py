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
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from neuronhead.heads.ensemble import EnsembleHead
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.params import StateError
from neuronhead.store import write_json
from neuronhead.version import __version__

FORMAT = "neuronhead.head/1"
WEIGHTS, META = "head.safetensors", "head.json"


class HeadError(ValueError):
    """A head folder that cannot be used, with the reason."""


def extraction_info(manifest: dict[str, Any]) -> dict[str, Any]:
    """What a head keeps of its features' extraction: scoring must read texts the same way."""
    info = {k: manifest.get(k) for k in ("pool_special_tokens", "max_length", "pooling")}
    return info | {"normalize": manifest.get("normalize") or "none"}


def save_head(head: NeuronHead, folder: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    """Write the head atomically (each file written then renamed); ``meta`` adds provenance. The
    content is the head's own state (:meth:`NeuronHead._to_state`); this module owns the files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state, arrays = head._to_state()
    info = {"format": FORMAT, "neuronhead_version": __version__, **state, **(meta or {})}
    # safetensors writes a non-contiguous array's memory as is (silently scrambled): copy first.
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    tmp = folder / f".{WEIGHTS}.tmp"
    save_file(arrays, str(tmp), metadata={"format": FORMAT})
    os.replace(tmp, folder / WEIGHTS)
    write_json(info, folder / META)
    return folder


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
    cls = EnsembleHead if (info.get("params") or {}).get("variant") == "ensemble" else NeuronHead
    try:
        return cls._from_state(info, arrays), info
    except StateError as e:
        raise HeadError(f"{path}: {e}") from None
