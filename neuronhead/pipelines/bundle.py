"""A deployable bundle: heads, the model's first k blocks, its tokenizer and config, in one folder.

``neuronhead export`` writes it; ``neuronhead.load(DIR)`` and ``neuronhead score --head DIR`` read it
without the original model folder. ``bundle.json`` records every file's sha256 and its own
(``record_sha256``, over its content without that key), and a bundle whose files do not match is
refused, naming the file. No file of it names a path of the machine that exported it: the model is
recorded by name (a hub id, ``bundled:NAME``, or a folder's last part).

    DIR/bundle.json          schema, heads, depth, the weights hashes, every file's sha256 (BundleRecord)
    DIR/model/               config (k layers), model.safetensors (blocks 0..k-1), tokenizer files
    DIR/heads/NAME/          head.json + head.safetensors, as `fit` wrote them
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers.utils import logging as hf_logging

from neuronhead.heads.artifact import META, WEIGHTS, HeadError
from neuronhead.models.loading import load_model, weights_hash
from neuronhead.store import write_json
from neuronhead.version import __version__

BUNDLE = "bundle.json"
SCHEMA = 2  # bundle.json's layout; 2 adds record_sha256; a bundle written before the field existed reads as 1


@dataclass(frozen=True)
class BundleRecord:
    """``bundle.json``, read and written only here: the heads, the blocks carried (``depth``), the
    weights hashes of the source model and of the carried blocks, and every file's sha256."""

    heads: list[str]
    depth: int
    source: str  # the heads' model by name (model_name): never a path of the exporting machine
    source_weights_sha256: str | None
    weights_sha256: str
    files: dict[str, str]
    neuronhead_version: str = __version__
    schema: int = SCHEMA

    def to_json(self) -> dict[str, Any]:
        """The record, its own sha256 (``record_sha256``) last."""
        body = {
            "schema": self.schema,
            "neuronhead_version": self.neuronhead_version,
            "heads": self.heads,
            "depth": self.depth,
            "model": {
                "source": self.source,
                "source_weights_sha256": self.source_weights_sha256,
                "weights_sha256": self.weights_sha256,
            },
            "files": self.files,
        }
        return body | {"record_sha256": record_digest(body)}

    @classmethod
    def from_json(cls, raw: Any, where: Path) -> BundleRecord:
        """The record of ``raw`` (``where``: the file, for errors); a newer or unknown layout is refused."""
        schema = raw.get("schema", 1) if isinstance(raw, dict) else None
        if not isinstance(schema, int) or schema < 1:
            raise HeadError(f"{where}: not a neuronhead bundle record")
        if schema > SCHEMA:
            raise HeadError(
                f"{where}: bundle schema {schema} is newer than this neuronhead reads ({SCHEMA}); "
                "upgrade neuronhead"
            )
        if schema >= 2 and raw.get("record_sha256") != record_digest(raw):
            if not isinstance(raw.get("record_sha256"), str):
                raise HeadError(f"{where}: a bundle record without a valid 'record_sha256'")
            raise HeadError(
                f"{where}: does not match the sha256 it records of itself (record_sha256): changed or "
                "damaged since export; re-export the bundle"
            )
        try:
            model = raw["model"]
            return cls(
                heads=[str(h) for h in raw["heads"]],
                depth=int(raw["depth"]),
                source=str(model["source"]),
                source_weights_sha256=model.get("source_weights_sha256"),
                weights_sha256=str(model["weights_sha256"]),
                files={str(k): str(v) for k, v in raw["files"].items()},
                neuronhead_version=str(raw.get("neuronhead_version", "")),
                schema=schema,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise HeadError(f"{where}: a bundle record without a valid {e}") from None


def record_digest(raw: dict[str, Any]) -> str:
    """sha256 of the record's content without ``record_sha256``: keys sorted, no spaces, UTF-8, so
    the layout of the file does not count, every value does."""
    body = {k: v for k, v in raw.items() if k != "record_sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def model_name(name: str | None) -> str:
    """A model's name without this machine's folders: a hub id or ``bundled:NAME`` as it is, a path
    by its last part."""
    name = str(name or "")
    return Path(name).name if Path(name).is_absolute() or name.startswith((".", "~")) else name


def portable_head_info(info: dict[str, Any]) -> dict[str, Any]:
    """A head's record as a bundle carries it: the model by name, without the folder it was read
    from (the bundle carries its model), and its training features by the folder's name."""
    model = {k: v for k, v in info.get("model", {}).items() if k != "path"}
    out = info | {"model": model | {"name": model_name(model.get("name"))}}
    if out.get("train_features"):
        out["train_features"] = Path(out["train_features"]).name
    return out


def is_bundle(folder: str | os.PathLike) -> bool:
    return (Path(folder) / BUNDLE).is_file()


def export_bundle(heads: Any, out: str | os.PathLike) -> BundleRecord:
    """Write ``heads`` (a ``HeadSet``) and the blocks they need into the new folder ``out``."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; export into a new folder")
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    depth = max(b.record.deepest_layer for b in heads.blobs) + 1
    loaded = load_model(heads.model_path, depth=depth)
    hf_logging.disable_progress_bar()  # one shard of a few blocks: no bar
    try:
        loaded.model.save_pretrained(tmp / "model", safe_serialization=True)
    finally:
        hf_logging.enable_progress_bar()
    loaded.tokenizer.save_pretrained(tmp / "model")
    for blob in heads.blobs:
        dest = tmp / "heads" / blob.name
        dest.mkdir(parents=True)
        write_json(portable_head_info(blob.record.state), dest / META)
        shutil.copyfile(Path(blob.where) / WEIGHTS, dest / WEIGHTS)
    record = BundleRecord(
        heads=heads.names,
        depth=depth,
        source=model_name(heads.blobs[0].record.model.name),
        source_weights_sha256=heads.blobs[0].record.model.weights_sha256,
        weights_sha256=weights_hash(tmp / "model"),
        files=_hashes(tmp),
    )
    write_json(record.to_json(), tmp / BUNDLE)
    if out.exists():
        out.rmdir()
    os.replace(tmp, out)
    return record


def read_bundle(folder: str | os.PathLike) -> BundleRecord:
    """``bundle.json``, after checking that every file it lists is there with its recorded sha256."""
    folder = Path(folder)
    try:
        raw = json.loads((folder / BUNDLE).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HeadError(f"{folder / BUNDLE}: not valid JSON ({e})") from None
    record = BundleRecord.from_json(raw, folder / BUNDLE)
    found = _hashes(folder)
    for rel, digest in record.files.items():
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
