"""Texts → pooled FFN features on disk: plan, then read → tokenize → model actors → Parquet shards.

The driver validates the whole input first (so bad rows are reported before any compute is spent),
fixes the shard plan, and writes ``manifest.json``. Shards already on disk are skipped, so an
interrupted run resumes. ``engine="ray"`` streams shards through Ray Data (a local in-process Ray by
default, a cluster with ``address``); ``engine="local"`` runs the very same steps in this process;
``"auto"`` picks (``runner.resolve_engine``).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import neuronhead
from neuronhead.data import input_warnings, plan_source, resolve_source, write_bad_rows
from neuronhead.models.loading import DEFAULT_MODEL, load_config, resolve_model_path, weights_hash
from neuronhead.models.registry import spec_for
from neuronhead.pipelines.extractor import ExtractorSettings, ShardExtractor
from neuronhead.pipelines.fingerprint import key_folder
from neuronhead.pipelines.lifecycle import Engine, run_missing
from neuronhead.pipelines.runner import resolve_engine
from neuronhead.pipelines.shards import auto_shard_rows, plan_shards
from neuronhead.store import FORMAT_VERSION, MANIFEST, SHARDS, shard_name, write_json
from neuronhead.tweets.options import TweetOptions


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
    split: str | None = None,
    layers: str | list[int] | None = None,
    max_length: int = 128,
    batch_size: int = 64,
    max_tokens: int | None = None,
    dtype: str = "auto",
    device: str = "auto",
    pool_special_tokens: bool = False,
    on_bad_row: str = "error",
    shard_rows: int | None = None,
    text_column: str = "text",
    id_column: str = "id",
    label_column: str = "label",
    label_names: list[str] | None = None,
    label_kind: str = "auto",
    embeddings: bool = False,
    format: str = "auto",
    normalize: str = "auto",
    tweets: TweetOptions | None = None,
    engine: str = "auto",
    address: str | None = None,
    num_actors: int | None = None,
    trust_remote_code: bool = False,
    progress: bool = True,
) -> dict:
    """Extract pooled FFN features of ``data`` into the folder ``out``; return the manifest.

    Re-running with the same arguments skips the shards already written; different arguments on a
    non-empty folder are refused rather than mixed. ``normalize="auto"`` records a TweetEval folder's
    texts as TweetEval-normalised (they come that way) and leaves other texts as they are; the
    manifest records it, the head keeps it, and scoring applies it.
    """
    engine = resolve_engine(engine, address)
    t_start = time.perf_counter()
    out = Path(out)
    model_path = resolve_model_path(model)
    config = load_config(model_path, trust_remote_code=trust_remote_code)
    spec = spec_for(config)
    n_total = spec.n_layers(config)
    layers = parse_layers(layers, n_total)
    width = spec.ffn_width(config)
    shard_rows = shard_rows or auto_shard_rows(len(layers) * 2 * width * 2)
    source = resolve_source(
        data,
        split=split,
        text_column=text_column,
        id_column=id_column,
        label_column=label_column,
        label_names=label_names,
        format=format,
        tweets=tweets,
    )
    if normalize == "auto":
        normalize = "tweeteval" if source.kind == "tweeteval" else "none"
    # TweetEval's texts were normalised at the source: it is recorded, and there is nothing to apply.
    source.normalize = "none" if source.kind == "tweeteval" else normalize
    settings_key = {
        "format_version": FORMAT_VERSION,
        "model_sha256": weights_hash(model_path),
        "layers": layers,
        "max_length": max_length,
        "pool_special_tokens": pool_special_tokens,
        "dtype": dtype,
        "shard_rows": shard_rows,
        "on_bad_row": on_bad_row,
        "source": {
            "kind": source.kind,
            "files": None,  # filled below: by content, and as folders before content hashing had it
            "split": source.split,
            "columns": [text_column, id_column, label_column],
            "label_names": label_names,
        },
    }
    if label_kind != "auto":  # only when set, so extractions made before the option keep their key
        settings_key["label_kind"] = label_kind
    if embeddings:
        settings_key["embeddings"] = True
    if source.normalize != "none" or source.tweets is not None:  # keeps earlier fingerprints
        settings_key["reading"] = {
            "normalize": source.normalize,
            "tweets": source.tweets and source.tweets.to_json(),
        }
    keyed = key_folder(out, settings_key, source.files, "an extraction")
    fingerprint, old = keyed.fingerprint, keyed.previous
    (out / SHARDS).mkdir(parents=True, exist_ok=True)
    if old and old.get("status") == "complete" and all((out / s["file"]).exists() for s in old["shards"]):
        if progress:
            print(f"{out}: already complete ({old['rows']} rows), nothing to do")
        return old

    t0 = time.perf_counter()
    plan = plan_source(source, on_bad_row=on_bad_row, label_kind=label_kind)
    t_plan = time.perf_counter() - t0
    if plan.bad_rows:
        write_bad_rows(plan.bad_rows, out / "bad_rows.jsonl")
        print(
            f"warning: {len(plan.bad_rows)} bad rows skipped and listed in {out / 'bad_rows.jsonl'}; "
            f"first: {plan.bad_rows[0]}"
        )
    for warning in input_warnings(plan):
        print(f"warning: {warning}")
    shards = plan_shards(plan, shard_rows)
    manifest = {
        "format_version": FORMAT_VERSION,
        "neuronhead_version": neuronhead.__version__,
        "fingerprint": fingerprint,
        "file_stamps": [st.record() for st in keyed.stamps],
        "status": "running",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {
            "name": DEFAULT_MODEL if model is None else str(model),
            "path": str(model_path),
            "weights_sha256": settings_key["model_sha256"],
            "model_type": config.model_type,
            "architecture": spec.name,
            "n_layers": n_total,
            "ffn_width": width,
        },
        "layers": layers,
        "depth": n_total if embeddings else max(layers) + 1,
        "embeddings": {
            "embed_mean": "final hidden state, mean over all real tokens (special tokens included)",
            "embed_token": "final hidden state of the "
            + ("last real" if spec.pad_with_eos else "first")
            + " token",
        }
        if embeddings
        else None,
        "pooling": ["mean", "max"],
        "pool_special_tokens": pool_special_tokens,
        "max_length": max_length,
        "normalize": normalize,
        "tweets": source.tweets.to_json() if source.tweets else None,
        "compute_dtype": dtype,
        "device": device,
        "storage_dtype": "float16",
        "source": {
            "kind": source.kind,
            "split": source.split,
            "files": [os.path.abspath(f) if os.path.exists(f) else f for f in source.files],
            "text_column": text_column,
            "id_column": id_column,
            "label_column": label_column,
        },
        "label_kind": plan.label_kind,
        "label_names": plan.label_names,
        "rows_in": plan.n_rows + len(plan.bad_rows),
        "bad_rows": len(plan.bad_rows),
        "duplicate_ids": plan.duplicate_ids,
        "filtered": plan.filtered,
        "empty_files": plan.empty_files,
        "rows": plan.n_rows,
        "shards": [
            {"file": shard_name(s.shard_id), "rows": s.count, "first_row": s.first_row} for s in shards
        ],
    }
    write_json(manifest, out / MANIFEST)

    settings = ExtractorSettings(
        model_path=str(model_path),
        layers=layers,
        out=str(out.resolve()),
        label_kind=plan.label_kind,
        max_length=max_length,
        batch_size=batch_size,
        max_tokens=max_tokens,
        dtype=dtype,
        device=device,
        pool_special_tokens=pool_special_tokens,
        trust_remote_code=trust_remote_code,
        embeddings=embeddings,
    )
    ran = run_missing(
        out,
        plan,
        shards,
        ShardExtractor,
        settings,
        engine=Engine(engine, address, num_actors),
        desc="extract",
        progress=progress,
    )
    stats = ran.stats
    done = [stats[str(s.shard_id)] for s in shards if str(s.shard_id) in stats]
    if done:  # what the workers resolved "auto" to
        manifest.update(device=done[-1].get("device", device), compute_dtype=done[-1].get("dtype", dtype))
        if any(d.get("null_forward") for d in done):  # a benchmark's zeros, not features
            manifest["null_forward"] = True
    manifest.update(
        status="complete",
        errors=sum(d["errors"] for d in done),
        truncated=sum(d["truncated"] for d in done),
        fp16_clipped=sum(d.get("fp16_clipped", 0) for d in done),
        tokens=sum(d["tokens"] for d in done),
        engine=engine,
        seconds={
            "plan": round(t_plan, 3),
            "extract": round(ran.seconds, 3),
            "total": round(time.perf_counter() - t_start, 3),
        },
        texts_per_second=round(ran.rows / ran.seconds, 1) if ran.rows and ran.seconds > 0 else None,
    )
    write_json(manifest, out / MANIFEST)
    return manifest
