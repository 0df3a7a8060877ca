"""A deployable bundle: heads, the model's first k blocks, its tokenizer and config, in one folder.

``neuronhead export`` writes it; ``neuronhead.load(DIR)`` and ``neuronhead score --head DIR`` read it
without the original model folder. ``bundle.json`` records every file's sha256, and a bundle whose
files do not match is refused, naming the file.

    DIR/bundle.json          heads, depth, the source model's weights hash, every file's sha256
    DIR/model/               config (k layers), model.safetensors (blocks 0..k-1), tokenizer files
    DIR/heads/NAME/          head.json + head.safetensors, as `fit` wrote them
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from transformers.utils import logging as hf_logging

from neuronhead.heads.artifact import HeadError
from neuronhead.models.loading import load_model, weights_hash
from neuronhead.store import write_json
from neuronhead.version import __version__

BUNDLE = "bundle.json"
HEAD_FILES = ("head.json", "head.safetensors")


def is_bundle(folder: str | os.PathLike) -> bool:
    return (Path(folder) / BUNDLE).is_file()


def export_bundle(heads: Any, out: str | os.PathLike) -> dict[str, Any]:
    """Write ``heads`` (a ``HeadSet``) and the blocks they need into the new folder ``out``."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; export into a new folder")
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    depth = max(int(b["info"]["deepest_layer"]) for b in heads.blobs) + 1
    loaded = load_model(heads.model_path, depth=depth)
    hf_logging.disable_progress_bar()  # one shard of a few blocks: no bar
    try:
        loaded.model.save_pretrained(tmp / "model", safe_serialization=True)
    finally:
        hf_logging.enable_progress_bar()
    loaded.tokenizer.save_pretrained(tmp / "model")
    for blob in heads.blobs:
        (tmp / "heads" / blob["name"]).mkdir(parents=True)
        for name in HEAD_FILES:
            shutil.copyfile(Path(blob["where"]) / name, tmp / "heads" / blob["name"] / name)
    record = {
        "neuronhead_version": __version__,
        "heads": heads.names,
        "depth": depth,
        "model": {
            "source": str(heads.model_path),
            "source_weights_sha256": heads.blobs[0]["info"]["model"].get("weights_sha256"),
            "weights_sha256": weights_hash(tmp / "model"),
        },
        "files": _hashes(tmp),
    }
    write_json(record, tmp / BUNDLE)
    if out.exists():
        out.rmdir()
    os.replace(tmp, out)
    return record


def read_bundle(folder: str | os.PathLike) -> dict[str, Any]:
    """``bundle.json``, after checking that every file it lists is there with its recorded sha256."""
    folder = Path(folder)
    record = json.loads((folder / BUNDLE).read_text())
    found = _hashes(folder)
    for rel, digest in record["files"].items():
        if rel not in found:
            raise HeadError(f"{folder / rel}: missing from the bundle")
        if found[rel] != digest:
            raise HeadError(f"{folder / rel}: does not match the sha256 the bundle recorded; re-export it")
    return record


def _hashes(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != BUNDLE):
        out[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
