"""Save and load a fitted Phase 1 (:class:`LayerProbes`) as safetensors + JSON.

A tuning search fits Phase 1 once and keeps it next to its results, so a resumed or repeated search
reuses it instead of refitting (minutes on TweetEval sentiment). Like heads, nothing here unpickles.
What is saved is the estimator's own state (:meth:`LayerProbes._to_state`); this module owns the
files: their names, the format tag and the atomic writes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from neuronhead.heads.phase1 import LayerProbes
from neuronhead.store import write_atomic, write_json

FORMAT = "neuronhead.probes/1"


def save_probes(probes: LayerProbes, folder: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write ``probes.safetensors`` and ``probes.json`` into ``folder`` (the JSON last, atomically)."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    info, arrays = probes._to_state()
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}  # safetensors needs contiguous
    write_atomic(folder / "probes.safetensors", lambda tmp: save_file(arrays, str(tmp)))
    write_json({"format": FORMAT, **info, **(extra or {})}, folder / "probes.json")
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
    return LayerProbes._from_state(meta, load_file(str(Path(folder) / "probes.safetensors")))
