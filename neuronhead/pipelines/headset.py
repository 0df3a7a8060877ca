"""Heads that run together on one model pass, loaded and checked once.

Scoring (and every other place a trained head is applied) needs the same three answers: which heads,
by what name; that they come from one model and one way of extracting features; and which model
folder to run, checked against the weights the heads were trained on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuronhead.heads.artifact import HeadBlob, HeadError, head_bytes, head_from_bytes
from neuronhead.manifests import ExtractionRecord, ModelRecord
from neuronhead.models.loading import resolve_model_path, weights_hash
from neuronhead.pipelines.bundle import is_bundle, read_bundle

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_head_specs(specs: Sequence[str]) -> list[tuple[str, Path]]:
    """``PATH`` or ``NAME=PATH`` → (name, path); the name defaults to the folder's name."""
    out: list[tuple[str, Path]] = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            path, name = spec, re.sub(r"\W", "_", Path(spec).resolve().name)
        if not _NAME.match(name):
            raise ValueError(f"--head {spec}: the name {name!r} must be letters, digits and _")
        if name in {n for n, _ in out}:
            raise ValueError(f"--head {spec}: two heads are named {name!r}; name them with NAME=PATH")
        out.append((name, Path(path)))
    return out


@dataclass(frozen=True)
class HeadSet:
    """Named heads as bytes (what workers on other nodes receive), the model folder they run on, and
    how their features were extracted."""

    blobs: list[HeadBlob]
    model_path: Path
    extraction: ExtractionRecord

    @classmethod
    def load(
        cls, specs: Sequence[str], model: str | None = None, force: bool = False, normalize: str = "auto"
    ) -> HeadSet:
        """Read the heads, check they share a model and an extraction, and find that model.

        ``model`` replaces the folder the heads recorded; its weights must be the heads' unless
        ``force``. An explicit ``normalize`` decides how texts are read, so heads may then differ in it.
        """
        if len(specs) == 1 and is_bundle(specs[0]):
            if model is not None:
                raise ValueError(f"{specs[0]} is a bundle: it carries its own model; drop --model")
            return cls.from_bundle(specs[0])
        named = parse_head_specs(specs)
        if not named:
            raise ValueError("give at least one --head")
        blobs = [head_bytes(path, name) for name, path in named]
        _check_same(blobs, set() if normalize == "auto" else {"normalize"})
        model_path = _model_folder(blobs[0].record.model, model)
        expected = blobs[0].record.model.weights_sha256
        actual = weights_hash(model_path)
        if actual != expected and not force:
            raise HeadError(
                f"the model at {model_path} (weights {actual}) is not the one the heads were trained on "
                f"({expected}); pass --force to score anyway"
            )
        return cls(blobs, model_path, blobs[0].record.extraction)

    @classmethod
    def from_bundle(cls, folder: str | Path) -> HeadSet:
        """The heads of an exported bundle (``neuronhead export``), on the blocks it carries."""
        record = read_bundle(folder)
        folder = Path(folder)
        blobs = [head_bytes(folder / "heads" / name, name) for name in record.heads]
        _check_same(blobs, set())
        if blobs[0].record.model.weights_sha256 != record.source_weights_sha256:
            raise HeadError(f"{folder}: its heads were trained on another model than the one it carries")
        return cls(blobs, folder / "model", blobs[0].record.extraction)

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.blobs]

    def build(self) -> dict[str, Any]:
        """``{name: fitted head}``."""
        return {b.name: head_from_bytes(b)[0] for b in self.blobs}


def _check_same(blobs: list[HeadBlob], ignore: set[str]) -> None:
    first = blobs[0]
    for b in blobs[1:]:
        if b.record.model.weights_sha256 != first.record.model.weights_sha256:
            raise HeadError(
                f"heads {first.where} and {b.where} were trained on different models; "
                "score them in separate jobs"
            )
        mine, theirs = first.record.extraction, b.record.extraction
        if {**mine.to_json(), **dict.fromkeys(ignore)} != {**theirs.to_json(), **dict.fromkeys(ignore)}:
            raise HeadError(
                f"heads {first.where} and {b.where} were trained on features extracted "
                f"differently ({theirs.to_json()} vs {mine.to_json()})"
            )


def _model_folder(recorded: ModelRecord, model: str | None) -> Path:
    """``model`` when given, else the folder the head recorded, else its name resolved (bundled, hub)."""
    if model is not None:
        return resolve_model_path(model)
    candidates = [recorded.path, recorded.name]
    found = next((Path(c) for c in candidates if c and Path(c).is_dir()), None)
    return found if found is not None else resolve_model_path(recorded.name)
