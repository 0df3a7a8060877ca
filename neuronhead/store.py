"""The feature store: Parquet shards with an explicit Arrow schema, plus ``manifest.json``.

Each layer's pooled features are two columns, ``layer_{i}_mean`` and ``layer_{i}_max``, as
``FixedSizeList<float16>`` (max |activation| of MiniLM is about 25, far inside float16's range), so
plain ``pyarrow.parquet.read_table`` reads them without Ray's tensor extension type. Every file
appears atomically (written under a hidden temporary name, then renamed), so a shard that exists is
complete, and that is all resume needs to know.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from neuronhead.manifests import FeatureManifest, ScoreManifest, manifest_from_json

MANIFEST = "manifest.json"
SHARDS = "shards"  # shards live apart from the JSON files, so pq.read_table("OUT/shards") just works
_SHARD = re.compile(r"^shard-\d{5,}\.parquet$")
FP16_MAX = float(np.finfo(np.float16).max)


def shard_name(shard_id: int) -> str:
    """A shard's path relative to the feature folder."""
    return f"{SHARDS}/shard-{shard_id:05d}.parquet"


def feature_columns(layers: list[int]) -> list[str]:
    return [f"layer_{layer}_{pool}" for layer in layers for pool in ("mean", "max")]


EMBED_COLUMNS = ("embed_mean", "embed_token")


def feature_schema(widths: dict[int, int], label_kind: str | None, embed_dim: int | None = None) -> pa.Schema:
    """``row, id, text, label?, layer_{i}_{mean,max}..., embed_{mean,token}?, n_tokens, truncated, error``."""
    fields = [
        pa.field("row", pa.int64(), nullable=False),
        pa.field("id", pa.string()),
        pa.field("text", pa.string()),
    ]
    if label_kind == "class":
        fields.append(pa.field("label", pa.int64()))
    elif label_kind == "value":
        fields.append(pa.field("label", pa.float64()))
    for layer, width in widths.items():
        for pool in ("mean", "max"):
            fields.append(pa.field(f"layer_{layer}_{pool}", pa.list_(pa.float16(), width)))
    if embed_dim:
        for name in EMBED_COLUMNS:
            fields.append(pa.field(name, pa.list_(pa.float16(), embed_dim)))
    fields += [
        pa.field("n_tokens", pa.int32()),
        pa.field("truncated", pa.bool_()),
        pa.field("error", pa.string()),
    ]
    return pa.schema(fields)


def fixed_size_float16(values: np.ndarray, valid: np.ndarray) -> pa.FixedSizeListArray:
    """(n, width) floats → FixedSizeList<float16>; rows where ``valid`` is false are null."""
    n, width = values.shape
    flat = pa.array(np.ascontiguousarray(values, dtype=np.float16).reshape(-1), type=pa.float16())
    return pa.FixedSizeListArray.from_arrays(flat, width, mask=pa.array(~valid))


def write_atomic(path: Path, write) -> None:
    """Call ``write(tmp_path)``, fsync, then rename onto ``path``: readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # disk full, read-only, quota: say which file could not be written
        tmp.unlink(missing_ok=True)
        if str(path) in str(exc):
            raise
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_table(table: pa.Table, path: Path) -> None:
    """Zstd Parquet; wide float columns without dictionary pages or min/max statistics.

    Activations almost never repeat, so a dictionary only costs time (and space), and nothing filters
    on their statistics (docs/benchmarks/pipeline.md, "Feeding the model", has the write and read times).
    """
    wide = [f.name for f in table.schema if pa.types.is_fixed_size_list(f.type)]
    narrow = [name for name in table.column_names if name not in wide]
    write_atomic(
        path,
        lambda tmp: pq.write_table(
            table, tmp, compression="zstd", use_dictionary=narrow, write_statistics=narrow
        ),
    )


def write_json(obj: Any, path: Path) -> None:
    write_atomic(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n"))


def read_manifest(folder: str | os.PathLike) -> FeatureManifest | ScoreManifest:
    """A job folder's typed record (a feature store's or a score folder's), its shard names checked."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{folder}: no {MANIFEST}; is this a neuronhead feature folder?")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    manifest = manifest_from_json(raw, path)
    for entry in manifest.shards:
        inside(folder, entry.file, path)
    return manifest


def read_features_manifest(folder: str | os.PathLike) -> FeatureManifest:
    """A feature store's record; a score folder (or anything else) is refused, naming the folder."""
    manifest = read_manifest(folder)
    if not isinstance(manifest, FeatureManifest):
        raise ValueError(f"{folder}: a folder of scores, not of features")
    return manifest


def read_scores_manifest(folder: str | os.PathLike) -> ScoreManifest:
    """A score folder's record; a feature store is refused, naming the folder."""
    manifest = read_manifest(folder)
    if not isinstance(manifest, ScoreManifest):
        raise ValueError(f"{folder}: not a folder of scores (its manifest kind is None)")
    return manifest


def write_manifest(manifest: FeatureManifest | ScoreManifest, folder: str | os.PathLike) -> None:
    write_json(manifest.to_json(), Path(folder) / MANIFEST)


def inside(folder: str | os.PathLike, name: str, source: object) -> Path:
    """``folder / name``, refused when ``name`` (read from ``source``) would lead outside ``folder``."""
    base = Path(folder).resolve()
    target = (base / name).resolve()
    if not name or Path(name).is_absolute() or not target.is_relative_to(base) or target == base:
        raise ValueError(f"{source}: entry {name!r} points outside {folder}; refusing to use it")
    return target


def shard_files(folder: str | os.PathLike) -> list[Path]:
    """The finished shards, in order. Only plain ``shard-NNNNN.parquet`` names inside ``folder`` count."""
    folder = Path(folder) / SHARDS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _SHARD.match(p.name) and p.is_file())


def load_features(
    folder: str | os.PathLike, layers: list[int] | None = None, dtype: Any = np.float32
) -> dict[str, Any]:
    """Read the featured rows of a folder: ``X`` (n, layers, 2, width) ``dtype``, ``label``, ``id``, ``row``.

    Rows with an ``error`` (e.g. empty text) have no features and are left out. For small and medium
    sets (heads, tests); large sets stream shard by shard.
    """
    manifest = read_features_manifest(folder)
    layers = manifest.layers if layers is None else layers
    columns = ["row", "id", "error"] + (["label"] if manifest.label_kind else []) + feature_columns(layers)
    embeds = [c for c in EMBED_COLUMNS if manifest.embeddings]
    columns += embeds
    table = pq.read_table(shard_files(folder), columns=columns).sort_by("row")
    table = table.filter(pc.is_null(table["error"]))
    n = table.num_rows
    out: dict[str, Any] = {
        "X": table_features(table, layers, dtype),
        "row": table["row"].to_numpy(),
        "id": table["id"].to_pylist(),
        "manifest": manifest,
    }
    for name in embeds:
        col = table[name].combine_chunks()
        out[name] = col.flatten().to_numpy(zero_copy_only=False).astype(dtype).reshape(n, -1)
    if "label" in table.column_names:
        out["label"] = table["label"].to_numpy(zero_copy_only=False)
    return out


def table_features(table: pa.Table, layers: list[int], dtype: Any = np.float16) -> np.ndarray:
    """``layer_{i}_{mean,max}`` columns of an Arrow table → ``(rows, layers, 2, width)``."""
    n = table.num_rows
    out = None
    for pos, layer in enumerate(layers):
        for p, pool in enumerate(("mean", "max")):
            values = list_values(table[f"layer_{layer}_{pool}"])
            if out is None:
                out = np.empty((n, len(layers), 2, values.shape[1]), dtype=dtype)
            out[:, pos, p] = values
    return out if out is not None else np.empty((n, 0, 2, 0), dtype)


def list_values(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A fixed-size-list column as a ``(rows, size)`` array (no copy for one chunk without nulls)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), -1)


def iter_feature_shards(
    folder: str | os.PathLike, layers: list[int] | None = None, dtype: Any = np.float16
) -> Iterator[dict[str, Any]]:
    """Shard by shard: ``X``, ``row`` and ``label`` of featured rows, so large sets never load at once."""
    manifest = read_features_manifest(folder)
    layers = manifest.layers if layers is None else layers
    columns = ["row", "error"] + (["label"] if manifest.label_kind else []) + feature_columns(layers)
    for path in shard_files(folder):
        table = pq.read_table(path, columns=columns)
        table = table.filter(pc.is_null(table["error"]))
        chunk = {"X": table_features(table, layers, dtype), "row": table["row"].to_numpy()}
        if "label" in table.column_names:
            chunk["label"] = table["label"].to_numpy(zero_copy_only=False)
        yield chunk


def check_shards(folder: str | os.PathLike) -> list[Path]:
    """The shards, each checked against the manifest from its footer alone (no data read).

    A truncated or corrupt file, or one whose layer columns or widths differ from the manifest's, is
    refused with its name: a streamed fit would otherwise fail (or mix widths) hours in.
    """
    manifest = read_features_manifest(folder)
    files = shard_files(folder)
    if not files:
        raise FileNotFoundError(f"{folder}: no finished shards under {SHARDS}/")
    want = None
    for path in files:
        try:
            schema = pq.read_schema(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise ValueError(f"{path}: not a readable Parquet shard (truncated or corrupt?): {exc}") from None
        widths = {
            name: schema.field(name).type.list_size
            for name in schema.names
            if name.startswith("layer_") and pa.types.is_fixed_size_list(schema.field(name).type)
        }
        missing = [c for c in feature_columns(list(manifest.layers)) if c not in widths]
        if missing:
            raise ValueError(f"{path}: lacks the manifest's feature columns {missing[:4]}")
        if want is None:
            want = (widths, files[0])
        elif widths != want[0]:
            diff = sorted(k for k in set(widths) | set(want[0]) if widths.get(k) != want[0].get(k))
            raise ValueError(
                f"{path}: feature columns differ from {want[1].name} ({diff[0]}: "
                f"{widths.get(diff[0])} vs {want[0].get(diff[0])}); one store holds one extraction"
            )
    return files


def iter_columns(
    files: list[Path],
    columns: list[str],
    chunk_rows: int = 2048,
    order: np.random.Generator | None = None,
) -> Iterator[pa.RecordBatch]:
    """Featured rows (no ``error``) of ``columns``, at most ``chunk_rows`` at a time.

    Memory is bounded by ``chunk_rows`` × the columns asked for, whatever the store's size. With
    ``order``, the shards come in a random order drawn from it (rows are shuffled by the caller):
    a seeded order, not arrival order, so a streamed fit is repeatable.
    """
    shards = list(files) if order is None else [files[i] for i in order.permutation(len(files))]
    for path in shards:
        try:
            # No pre-buffering: it holds a row group's whole column chunks (614 MB for a 500-row
            # shard of GPT2-XL-wide layers), where a batch needs ``chunk_rows`` of them.
            reader = pq.ParquetFile(path, pre_buffer=False)
            for batch in reader.iter_batches(batch_size=chunk_rows, columns=[*columns, "error"]):
                if batch.column("error").null_count < batch.num_rows:  # filter copies every column
                    batch = batch.filter(pc.is_null(batch.column("error")))
                if batch.num_rows:
                    yield batch
        except (pa.ArrowInvalid, OSError) as exc:
            raise ValueError(f"{path}: cannot be read (truncated or corrupt?): {exc}") from None
