"""The records a job folder keeps in ``manifest.json``, typed: a feature store's and a score folder's.

Each is read and written only through :meth:`to_json` / :func:`manifest_from_json` here (``store``
reads and writes the file), so no other module looks a manifest up by string key. A record written
by a newer neuronhead (``format_version`` above :data:`FORMAT_VERSION`) or one neuronhead never wrote
is refused with the file and the fix. Fields a record did not hold when older versions wrote it take
their defaults, so folders written before a field existed still read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from typing import Any

FORMAT_VERSION = 1
SCORES = "scores"  # the ``kind`` of a score folder's manifest; a feature store's has none


def _omit(default: Any = None, **kw: Any) -> Any:
    """A field left out of the JSON while it holds its default (optional or late-filled parts)."""
    return field(default=default, metadata={"omit_default": True}, **kw)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return value.to_json()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Record:
    """JSON in field order; fields marked ``_omit`` only when they differ from their default."""

    def to_json(self) -> dict[str, Any]:
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.metadata.get("omit_default") and value == f.default:
                continue
            out[f.name] = _plain(value)
        return out

    @classmethod
    def _kwargs(cls, raw: dict[str, Any]) -> dict[str, Any]:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return {k: v for k, v in raw.items() if k in names}  # keys of later versions are not ours


@dataclass(frozen=True)
class ModelRecord(_Record):
    """The model features were taken from: where it was, its weights hash, and its shape."""

    name: str | None = _omit()
    path: str | None = _omit()
    weights_sha256: str | None = None
    model_type: str | None = _omit()
    architecture: str | None = _omit()
    n_layers: int | None = _omit()
    ffn_width: int | None = _omit()


@dataclass(frozen=True)
class SourceRecord(_Record):
    """The input files and how they were read."""

    kind: str | None = None
    split: str | None = None
    files: list[str] = field(default_factory=list)
    text_column: str | None = _omit()
    id_column: str | None = _omit()
    label_column: str | None = _omit()


@dataclass(frozen=True)
class ExtractionRecord(_Record):
    """How features were read from texts: what a head keeps, so scoring reads texts the same way.
    Heads from before ``normalize`` was recorded read ``none``."""

    pool_special_tokens: bool = False
    max_length: int | None = None
    pooling: list[str] = field(default_factory=lambda: ["mean", "max"])
    normalize: str = "none"

    @classmethod
    def from_json(cls, raw: Any) -> ExtractionRecord:
        plain = {k: v for k, v in cls._kwargs(raw or {}).items() if v is not None or k == "max_length"}
        return cls(**plain)


@dataclass(frozen=True)
class ShardEntry(_Record):
    """One finished (or planned) shard: its file relative to the folder and its row count."""

    file: str
    rows: int
    first_row: int | None = _omit()
    bad_rows: bool = _omit(False)


@dataclass(frozen=True, kw_only=True)
class HeadEntry(_Record):
    """A head a score folder was scored with: its task is what a reader of the scores needs."""

    folder: str | None = None
    task: str
    label_names: list[str] | None = None
    deepest_layer: int = 0


@dataclass(frozen=True)
class _JobRecord(_Record):
    """What both job folders record: the key, the inputs' stamps, the rows and the shards."""

    neuronhead_version: str | None = _omit()  # the writer's; this module is below version
    fingerprint: str | None = None
    file_stamps: list[list] | None = None
    status: str = "running"
    model: ModelRecord = ModelRecord()
    source: SourceRecord = SourceRecord()
    tweets: dict[str, Any] | None = None
    normalize: str | None = None
    rows_in: int | None = None
    duplicate_ids: int = 0
    filtered: dict[str, int] = field(default_factory=dict)
    empty_files: list[str] = field(default_factory=list)
    shards: list[ShardEntry] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def replace(self, **changes: Any) -> Any:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class FeatureManifest(_JobRecord):
    """A feature store's ``manifest.json``: what was extracted, from what, and how it went."""

    format_version: int = FORMAT_VERSION
    created: str | None = None
    layers: list[int] = field(default_factory=list)
    depth: int | None = None
    embeddings: dict[str, str] | None = None
    pooling: list[str] = field(default_factory=lambda: ["mean", "max"])
    pool_special_tokens: bool = False
    max_length: int | None = None
    compute_dtype: str | None = None
    device: str | None = None
    storage_dtype: str = "float16"
    label_kind: str | None = None
    label_names: list[str] | None = None
    bad_rows: int = 0
    rows: int = 0
    errors: int | None = _omit()
    truncated: int | None = _omit()
    fp16_clipped: int | None = _omit()
    tokens: int | None = _omit()
    engine: str | None = _omit()
    seconds: dict[str, float] | None = _omit()
    texts_per_second: float | None = _omit()
    null_forward: bool = _omit(False)  # a benchmark's stand-in values, not features
    synthetic: dict[str, Any] | None = _omit()  # the planted signal of a synthetic store

    def to_json(self) -> dict[str, Any]:
        return _ordered(super().to_json(), _FEATURE_ORDER)

    @property
    def total_seconds(self) -> float | None:
        return (self.seconds or {}).get("total")

    def extraction(self) -> ExtractionRecord:
        """What a head keeps of its features' extraction: scoring must read texts the same way."""
        return ExtractionRecord(
            self.pool_special_tokens, self.max_length, self.pooling, self.normalize or "none"
        )


@dataclass(frozen=True)
class ScoreManifest(_JobRecord):
    """A score folder's ``manifest.json``: the heads, the input and, once complete, the summary."""

    kind: str = SCORES
    heads: dict[str, HeadEntry] = field(default_factory=dict)
    deepest_layer: int | None = None
    summary: dict[str, Any] | None = _omit()

    def to_json(self) -> dict[str, Any]:
        plain = super().to_json()
        plain["heads"] = {name: h.to_json() for name, h in self.heads.items()}
        return _ordered(plain, _SCORE_ORDER)

    @property
    def rows_out(self) -> int:
        return int((self.summary or {}).get("rows_out", 0))


# The key order the files have always had (readers don't care; people diffing two folders do).
# fmt: off
_FEATURE_ORDER = (
    "format_version", "neuronhead_version", "fingerprint", "file_stamps", "status", "created", "model",
    "layers", "depth", "embeddings", "pooling", "pool_special_tokens", "max_length", "normalize",
    "tweets", "compute_dtype", "device", "storage_dtype", "source", "label_kind", "label_names",
    "rows_in", "bad_rows", "duplicate_ids", "filtered", "empty_files", "rows", "shards", "null_forward",
    "errors", "truncated", "fp16_clipped", "tokens", "engine", "seconds", "texts_per_second",
    "synthetic",
)
_SCORE_ORDER = (
    "kind", "neuronhead_version", "status", "heads", "model", "source", "tweets", "rows_in", "filtered",
    "duplicate_ids", "empty_files", "shards", "fingerprint", "file_stamps", "deepest_layer", "normalize",
    "summary",
)
# fmt: on


def _ordered(plain: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    return {k: plain[k] for k in order if k in plain}


def manifest_from_json(raw: Any, where: object) -> FeatureManifest | ScoreManifest:
    """The typed record of ``raw`` (read from ``where``, named in errors)."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: not a neuronhead manifest")
    version = raw.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{where}: format_version {version!r} is not one neuronhead wrote")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{where}: feature store format {version} is newer than this neuronhead reads "
            f"({FORMAT_VERSION}); upgrade neuronhead"
        )
    try:
        nested = {
            "model": ModelRecord(**ModelRecord._kwargs(raw.get("model") or {})),
            "source": SourceRecord(**SourceRecord._kwargs(raw.get("source") or {})),
            "shards": [ShardEntry(**ShardEntry._kwargs(s)) for s in raw.get("shards") or []],
        }
        if raw.get("kind") == SCORES:
            heads = {str(k): HeadEntry(**HeadEntry._kwargs(h)) for k, h in (raw.get("heads") or {}).items()}
            return ScoreManifest(**ScoreManifest._kwargs(raw) | nested | {"heads": heads})
        if raw.get("kind") is not None:
            raise ValueError(f"kind {raw['kind']!r}")
        return FeatureManifest(**FeatureManifest._kwargs(raw) | nested)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{where}: not a manifest this neuronhead reads ({exc})") from None
