"""A head on disk: ``head.safetensors`` (arrays) + ``head.json`` (everything else). Never pickle.

Loading checks the format version, that every array the JSON promises is present with the right
shape, and names the file and the problem when something is off.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from neuronhead.heads.ensemble import EnsembleHead
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.params import StateError
from neuronhead.manifests import ExtractionRecord, ModelRecord
from neuronhead.store import write_json
from neuronhead.version import __version__

FORMAT = "neuronhead.head/1"
WEIGHTS, META = "head.safetensors", "head.json"


class HeadError(ValueError):
    """A head folder that cannot be used, with the reason."""


@dataclass(frozen=True)
class HeadRecord:
    """``head.json`` as the rest of neuronhead reads it: what the head predicts, from which layers,
    on which model, from features read which way. ``state`` is the whole record; only the estimator
    (``_from_state``) and the head's own reports look inside it."""

    task: str
    deepest_layer: int
    label_names: list[str] | None
    model: ModelRecord
    extraction: ExtractionRecord
    metric: str | None
    state: dict[str, Any]

    @classmethod
    def from_json(cls, raw: dict[str, Any], where: object) -> HeadRecord:
        if raw.get("format") != FORMAT:
            raise HeadError(f"{where}: format {raw.get('format')!r}, this neuronhead reads {FORMAT!r}")
        try:
            return cls(
                task=str(raw["task"]),
                deepest_layer=int(raw["deepest_layer"]),
                label_names=raw.get("label_names"),
                model=ModelRecord(**ModelRecord._kwargs(raw.get("model") or {})),
                extraction=ExtractionRecord.from_json(raw.get("extraction")),
                metric=raw.get("metric"),
                state=raw,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise HeadError(f"{where}: a head record without a valid {e}") from None


@dataclass(frozen=True)
class HeadBlob:
    """A head as its record and raw safetensors bytes, under the name it is scored by: what a
    scoring job ships to workers on other nodes."""

    name: str
    where: str
    weights: bytes
    record: HeadRecord

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.weights).hexdigest()


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


def read_head_info(folder: str | os.PathLike) -> HeadRecord:
    path = Path(folder) / META
    if not path.is_file():
        raise HeadError(f"{folder}: not a head folder ({META} missing)")
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HeadError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(info, dict):
        raise HeadError(f"{path}: not a neuronhead head record")
    return HeadRecord.from_json(info, path)


def load_head(folder: str | os.PathLike) -> tuple[NeuronHead, HeadRecord]:
    """The head and its JSON record; raises :class:`HeadError` naming what is wrong."""
    folder = Path(folder)
    info = read_head_info(folder)
    path = folder / WEIGHTS
    try:
        arrays = load_file(str(path))
    except (FileNotFoundError, SafetensorError, OSError) as e:
        raise HeadError(f"{path}: cannot read weights ({e})") from None
    return build_head(info, arrays, path)


def head_bytes(folder: str | os.PathLike, name: str) -> HeadBlob:
    """The head in ``folder`` as its record and raw bytes, named ``name``."""
    folder = Path(folder)
    record = read_head_info(folder)
    try:
        weights = (folder / WEIGHTS).read_bytes()
    except OSError as e:
        raise HeadError(f"{folder / WEIGHTS}: cannot read weights ({e})") from None
    return HeadBlob(name, str(folder), weights, record)


def head_from_bytes(blob: HeadBlob) -> tuple[NeuronHead, HeadRecord]:
    from safetensors.numpy import load

    where = Path(blob.where) / WEIGHTS
    try:
        arrays = load(blob.weights)
    except (SafetensorError, OSError) as e:
        raise HeadError(f"{where}: cannot read weights ({e})") from None
    return build_head(blob.record, arrays, where)


def build_head(
    record: HeadRecord, arrays: dict[str, np.ndarray], path: Path
) -> tuple[NeuronHead, HeadRecord]:
    """A :class:`NeuronHead` from its record and arrays, every shape checked against the record."""
    state = record.state
    cls = EnsembleHead if (state.get("params") or {}).get("variant") == "ensemble" else NeuronHead
    try:
        return cls._from_state(state, arrays), record
    except StateError as e:
        raise HeadError(f"{path}: {e}") from None
