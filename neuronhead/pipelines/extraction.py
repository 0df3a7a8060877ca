"""Texts → pooled FFN features on disk: plan, then read → tokenize → model actors → Parquet shards.

The driver validates the whole input first (so bad rows are reported before any compute is spent),
fixes the shard plan, and writes ``manifest.json``. Shards already on disk are skipped, so an
interrupted run resumes. ``engine="ray"`` runs shards on a Ray actor pool (``actor_pool``; a local
in-process Ray by default, a cluster with ``address``); ``engine="local"`` runs the very same steps
in this process; ``"auto"`` picks (``runner.resolve_engine``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from neuronhead.data import (
    Columns,
    Source,
    SourcePlan,
    input_warnings,
    plan_source,
    resolve_source,
    write_bad_rows,
)
from neuronhead.manifests import FORMAT_VERSION, FeatureManifest, ModelRecord, ShardEntry, SourceRecord
from neuronhead.models.loading import DEFAULT_MODEL, load_config, resolve_model_path, weights_hash
from neuronhead.models.registry import spec_for
from neuronhead.pipelines.extraction_worker import ExtractorSettings, ShardExtractor
from neuronhead.pipelines.fingerprint import key_folder
from neuronhead.pipelines.lifecycle import run_missing
from neuronhead.pipelines.options import Capture, Compute, Engine, Output, Reading
from neuronhead.pipelines.runner import resolve_engine
from neuronhead.pipelines.shards import auto_shard_rows, plan_shards
from neuronhead.store import SHARDS, shard_name, write_manifest
from neuronhead.version import __version__


def parse_layers(spec: str | list[int] | None, n_layers: int) -> list[int]:
    """``"0-5"``, ``"0,2,4-5"``, a list, or None (all layers) → sorted layer indices, checked."""
    if spec is None or spec == "" or spec == "all":
        return list(range(n_layers))
    if isinstance(spec, str):
        layers: set[int] = set()
        for part in spec.split(","):
            lo, _, hi = part.strip().partition("-")
            try:
                layers.update(range(int(lo), int(hi or lo) + 1))
            except ValueError:
                raise ValueError(f"--layers: cannot read {part!r} (use e.g. 0-5 or 0,2,4-5)") from None
    else:
        layers = {int(x) for x in spec}
    bad = sorted(x for x in layers if not 0 <= x < n_layers)
    if bad or not layers:
        raise ValueError(f"layers {bad or spec} out of range: the model has layers 0..{n_layers - 1}")
    return sorted(layers)


def extract(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    model: str | None = None,
    capture: Capture = Capture(),
    reading: Reading = Reading(),
    compute: Compute = Compute(),
    engine: Engine = Engine(),
    output: Output = Output(),
) -> FeatureManifest:
    """Extract pooled FFN features of ``data`` into the folder ``out``; return the manifest.

    Re-running with the same arguments skips the shards already written; different arguments on a
    non-empty folder are refused rather than mixed. ``normalize="auto"`` records a TweetEval folder's
    texts as TweetEval-normalised (they come that way) and leaves other texts as they are; the
    manifest records it, the head keeps it, and scoring applies it.
    """
    engine = dataclasses.replace(engine, engine=resolve_engine(engine.engine, engine.address))
    t_start = time.perf_counter()
    out = Path(out)
    model_path = resolve_model_path(model)
    config = load_config(model_path, trust_remote_code=compute.trust_remote_code)
    spec = spec_for(config)
    capture = dataclasses.replace(capture, layers=parse_layers(capture.layers, spec.n_layers(config)))
    width = spec.ffn_width(config)
    shard_rows = output.shard_rows or auto_shard_rows(len(capture.layers) * 2 * width * 2)
    source, normalize = _source(data, reading)
    key = _settings_key(model_path, capture, reading, compute, source, shard_rows)
    keyed = key_folder(out, key, source.files, "an extraction")
    (out / SHARDS).mkdir(parents=True, exist_ok=True)
    old = keyed.previous
    if old and old.complete and all((out / s.file).exists() for s in old.shards):
        if output.progress:
            print(f"{out}: already complete ({old.rows} rows), nothing to do")
        return old

    t0 = time.perf_counter()
    plan = plan_source(source, on_bad_row=reading.on_bad_row, label_kind=reading.label_kind)
    t_plan = time.perf_counter() - t0
    _warn(plan, out)
    shards = plan_shards(plan, shard_rows)
    manifest = FeatureManifest(
        neuronhead_version=__version__,
        fingerprint=keyed.fingerprint,
        file_stamps=[st.record() for st in keyed.stamps],
        model=_model(model, model_path, config, key["model_sha256"]),
        normalize=normalize,
        **_capture(config, capture, compute, source),
        **_rows(reading, source, plan, shards),
    )
    write_manifest(manifest, out)

    settings = ExtractorSettings(str(model_path), str(out.resolve()), plan.label_kind, capture, compute)
    ran = run_missing(
        out, plan, shards, ShardExtractor, settings, engine=engine, desc="extract", progress=output.progress
    )
    done = [ran.stats[str(s.shard_id)] for s in shards if str(s.shard_id) in ran.stats]
    last = done[-1] if done else {}  # what the workers resolved "auto" to
    manifest = manifest.replace(
        device=last.get("device", compute.device),
        compute_dtype=last.get("dtype", compute.dtype),
        null_forward=any(d.get("null_forward") for d in done),  # a benchmark's stand-in values
        status="complete",
        errors=sum(d["errors"] for d in done),
        truncated=sum(d["truncated"] for d in done),
        fp16_clipped=sum(d.get("fp16_clipped", 0) for d in done),
        tokens=sum(d["tokens"] for d in done),
        engine=engine.engine,
        seconds={
            "plan": round(t_plan, 3),
            "extract": round(ran.seconds, 3),
            "total": round(time.perf_counter() - t_start, 3),
        },
        texts_per_second=round(ran.rows / ran.seconds, 1) if ran.rows and ran.seconds > 0 else None,
    )
    write_manifest(manifest, out)
    return manifest


def _source(data: str | os.PathLike, reading: Reading) -> tuple[Source, str]:
    """The input, and the normalisation to record: TweetEval's texts were normalised at the source, so
    it is recorded, and there is nothing to apply."""
    source = resolve_source(
        data,
        split=reading.split,
        columns=Columns(reading.text_column, reading.id_column, reading.label_column),
        label_names=reading.label_names,
        format=reading.format,
        tweets=reading.tweets,
    )
    normalize = reading.normalize
    if normalize == "auto":
        normalize = "tweeteval" if source.kind == "tweeteval" else "none"
    source.normalize = "none" if source.kind == "tweeteval" else normalize
    return source, normalize


def _settings_key(
    model_path: Path, capture: Capture, reading: Reading, compute: Compute, source: Source, shard_rows: int
) -> dict:
    """What the folder's fingerprint covers; optional parts only when set, so older folders keep theirs."""
    key: dict = {
        "format_version": FORMAT_VERSION,
        "model_sha256": weights_hash(model_path),
        "layers": capture.layers,
        "max_length": capture.max_length,
        "pool_special_tokens": capture.pool_special_tokens,
        "dtype": compute.dtype,
        "shard_rows": shard_rows,
        "on_bad_row": reading.on_bad_row,
        "source": {
            "kind": source.kind,
            "files": None,  # filled by key_folder: by content, and as folders before content hashing had it
            "split": source.split,
            "columns": [reading.text_column, reading.id_column, reading.label_column],
            "label_names": reading.label_names,
        },
    }
    if reading.label_kind != "auto":
        key["label_kind"] = reading.label_kind
    if capture.embeddings:
        key["embeddings"] = True
    if source.normalize != "none" or source.tweets is not None:
        key["reading"] = {"normalize": source.normalize, "tweets": source.tweets and source.tweets.to_json()}
    return key


def _warn(plan: SourcePlan, out: Path) -> None:
    if plan.bad_rows:
        write_bad_rows(plan.bad_rows, out / "bad_rows.jsonl")
        print(
            f"warning: {len(plan.bad_rows)} bad rows skipped and listed in {out / 'bad_rows.jsonl'}; "
            f"first: {plan.bad_rows[0]}"
        )
    for warning in input_warnings(plan):
        print(f"warning: {warning}")


def _model(model: str | None, model_path: Path, config: Any, weights_sha256: str) -> ModelRecord:
    spec = spec_for(config)
    return ModelRecord(
        name=DEFAULT_MODEL if model is None else str(model),
        path=str(model_path),
        weights_sha256=weights_sha256,
        model_type=config.model_type,
        architecture=spec.name,
        n_layers=spec.n_layers(config),
        ffn_width=spec.ffn_width(config),
    )


def _capture(config: Any, capture: Capture, compute: Compute, source: Source) -> dict[str, Any]:
    """The manifest's account of what was captured and how, before any shard runs."""
    spec = spec_for(config)
    embeddings = {
        "embed_mean": "final hidden state, mean over all real tokens (special tokens included)",
        "embed_token": "final hidden state of the "
        + ("last real" if spec.pad_with_eos else "first")
        + " token",
    }
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "layers": capture.layers,
        "depth": spec.n_layers(config) if capture.embeddings else max(capture.layers) + 1,
        "embeddings": embeddings if capture.embeddings else None,
        "pool_special_tokens": capture.pool_special_tokens,
        "max_length": capture.max_length,
        "tweets": source.tweets.to_json() if source.tweets else None,
        "compute_dtype": compute.dtype,
        "device": compute.device,
    }


def _rows(reading: Reading, source: Source, plan: SourcePlan, shards: list) -> dict[str, Any]:
    """The manifest's account of the input: where it came from, its labels, rows and shards."""
    return {
        "source": SourceRecord(
            kind=source.kind,
            split=source.split,
            files=[os.path.abspath(f) if os.path.exists(f) else f for f in source.files],
            text_column=reading.text_column,
            id_column=reading.id_column,
            label_column=reading.label_column,
        ),
        "label_kind": plan.label_kind,
        "label_names": plan.label_names,
        "rows_in": plan.n_rows + len(plan.bad_rows),
        "bad_rows": len(plan.bad_rows),
        "duplicate_ids": plan.duplicate_ids,
        "filtered": plan.filtered,
        "empty_files": plan.empty_files,
        "rows": plan.n_rows,
        "shards": [ShardEntry(shard_name(s.shard_id), s.count, s.first_row) for s in shards],
    }
