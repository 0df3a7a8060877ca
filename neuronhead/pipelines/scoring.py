"""``neuronhead score``: texts → every head's predictions, in Parquet shards, without losing a row.

One pass of the model serves all heads that share it, stopping after the deepest layer any of them
needs. Rows the reader rejects (undecodable, wrong type…) are not dropped: they are written as rows with
an ``error`` (file, line and problem) in one extra shard. Shards appear atomically and finished ones are
skipped on a rerun, so an interrupted job resumes. The job ends with ``summary.json``: rows in, scored,
errors, filtered — and rows in always equals scored + errors + filtered.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from neuronhead.data import Columns, input_warnings, plan_source, resolve_source
from neuronhead.manifests import HeadEntry, ModelRecord, ScoreManifest, ShardEntry, SourceRecord
from neuronhead.models.loading import weights_hash
from neuronhead.models.tokens import MAX_LENGTH
from neuronhead.pipelines.fingerprint import key_folder
from neuronhead.pipelines.headset import HeadSet
from neuronhead.pipelines.lifecycle import run_missing
from neuronhead.pipelines.options import Capture, Compute, Engine, Output, Reading
from neuronhead.pipelines.scoring_worker import ScorerSettings, ShardScorer, score_schema
from neuronhead.pipelines.shards import auto_shard_rows, plan_shards
from neuronhead.store import SHARDS, shard_name, write_json, write_manifest, write_table
from neuronhead.tweets.options import FILTERED
from neuronhead.version import __version__

NO_LABEL = "\x00no label column"  # scoring never reads labels: a label problem is not a scoring problem


@dataclass(frozen=True)
class ScoreOptions:
    """``score``'s option groups together, for callers that score many inputs alike (the follower)."""

    reading: Reading = Reading()
    compute: Compute = Compute()
    engine: Engine = Engine()
    output: Output = Output()
    keep_text: bool = False


def score(
    heads: HeadSet | Sequence[str],
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    reading: Reading = Reading(),
    compute: Compute = Compute(),
    engine: Engine = Engine(),
    output: Output = Output(),
    keep_text: bool = False,
) -> dict[str, Any]:
    """Score ``data`` with every head into ``out``; returns (and writes) the summary.

    ``heads`` are ``PATH``/``NAME=PATH`` specs run on the model they recorded, or a ``HeadSet``
    loaded with another model. ``reading.normalize="auto"`` normalises texts the way the heads'
    training texts were (recorded in each head); ``reading.tweets`` filters a tweet dump (filtered
    rows come out with their reason in ``error``). Labels and ``on_bad_row`` of ``reading`` are not
    used: scoring reads no labels, and an unreadable row becomes an output row with its reason.
    """
    return score_with(heads, data, out, ScoreOptions(reading, compute, engine, output, keep_text))


def score_with(
    heads: HeadSet | Sequence[str],
    data: str | os.PathLike,
    out: str | os.PathLike,
    options: ScoreOptions,
    worker: Callable[..., Any] = ShardScorer,
) -> dict[str, Any]:
    """``score`` with its options as one group, built by ``worker`` (``ShardScorer``, or a
    ``KeptScorer`` that keeps its model from one input to the next: the follower's many files)."""
    reading, compute, engine, output = options.reading, options.compute, options.engine, options.output
    keep_text = options.keep_text
    t_start = time.perf_counter()
    out = Path(out)
    if not isinstance(heads, HeadSet):
        heads = HeadSet.load(heads, normalize=reading.normalize)
    built = heads.build()
    normalize = reading.normalize
    if normalize == "auto":
        normalize = heads.extraction.normalize
    source = resolve_source(
        data,
        split=reading.split,
        columns=Columns(reading.text_column, reading.id_column, NO_LABEL),
        format=reading.format,
        normalize=normalize,
        tweets=reading.tweets,
    )
    shard_rows = output.shard_rows or auto_shard_rows(2048)  # scores are small: shards of 4,096 rows
    key = _key(heads, source, reading, shard_rows, keep_text, normalize)
    keyed = key_folder(out, key, source.files, "scores")

    plan = plan_source(source, on_bad_row="skip")  # before any folder: input refused whole leaves none
    (out / SHARDS).mkdir(parents=True, exist_ok=True)
    shards = plan_shards(plan, shard_rows)
    manifest = _manifest(heads, key, source, plan, shards).replace(
        fingerprint=keyed.fingerprint,
        file_stamps=[st.record() for st in keyed.stamps],
        deepest_layer=max(h.deepest_layer_ for h in built.values()),
        normalize=normalize,
    )
    for warning in input_warnings(plan):
        print(f"warning: {warning}")
    if plan.bad_rows:
        schema = score_schema(built, keep_text, source.kind == "tweets")
        manifest = _bad_rows_shard(out, manifest, plan, schema)
    write_manifest(manifest, out)

    settings = ScorerSettings(
        model_path=str(heads.model_path),
        heads=heads.blobs,
        out=str(out.resolve()),
        capture=Capture(
            max_length=int(heads.extraction.max_length or MAX_LENGTH),
            pool_special_tokens=heads.extraction.pool_special_tokens,
        ),
        compute=compute,
        keep_text=keep_text,
        tweet_columns=source.kind == "tweets",
    )
    ran = run_missing(
        out, plan, shards, worker, settings, engine=engine, desc="score", progress=output.progress
    )
    result = _summary(out, manifest, plan, ran, t_start)
    if result["rows_out"] != result["rows_in"]:
        raise RuntimeError(f"{out}: {result['rows_in']} rows in, {result['rows_out']} out; rerun to repair")
    write_manifest(manifest.replace(status="complete", summary=result), out)
    write_json(result, out / "summary.json")
    return result


def _key(heads: HeadSet, source, reading: Reading, shard_rows: int, keep_text: bool, normalize: str) -> dict:
    """What the folder's fingerprint covers; ``reading`` only when it matters, so older jobs keep theirs."""
    key = {
        "heads": [[b.name, b.sha256] for b in heads.blobs],
        "model_sha256": weights_hash(heads.model_path),
        "source": {
            "kind": source.kind,
            "files": None,  # filled in by key_folder
            "split": source.split,
            "columns": [reading.text_column, reading.id_column],
        },
        "shard_rows": shard_rows,
        "keep_text": keep_text,
    }
    if source.kind == "tweets" or normalize != "none":
        key["reading"] = {"normalize": normalize, "tweets": source.tweets and source.tweets.to_json()}
    return key


def _manifest(heads: HeadSet, key: dict, source, plan, shards) -> ScoreManifest:
    """The job's manifest before any shard runs (``status: running``)."""
    return ScoreManifest(
        neuronhead_version=__version__,
        heads={
            b.name: HeadEntry(
                folder=b.where,
                task=b.record.task,
                label_names=b.record.label_names,
                deepest_layer=b.record.deepest_layer,
            )
            for b in heads.blobs
        },
        model=ModelRecord(path=str(heads.model_path), weights_sha256=key["model_sha256"]),
        source=SourceRecord(kind=source.kind, split=source.split, files=source.files),
        tweets=source.tweets.to_json() if source.tweets else None,
        rows_in=plan.n_rows + len(plan.bad_rows),
        filtered=plan.filtered,
        duplicate_ids=plan.duplicate_ids,
        empty_files=plan.empty_files,
        shards=[ShardEntry(shard_name(s.shard_id), s.count) for s in shards],
    )


def _summary(out: Path, manifest: ScoreManifest, plan, ran, t_start: float) -> dict[str, Any]:
    """Rows in and out (counted from the shards), throughput and memory: ``summary.json``."""
    stats = ran.stats
    counts = _count(out, manifest)
    result = {
        "rows_in": manifest.rows_in,
        "rows_out": counts["rows"],
        "scored": counts["rows"] - counts["errors"] - counts["filtered"],
        "errors": counts["errors"],
        "filtered": counts["filtered"],
        "filtered_by": plan.filtered,
        "bad_input_rows": len(plan.bad_rows),
        "duplicate_ids": plan.duplicate_ids,
        "empty_files": plan.empty_files,
        "heads": list(manifest.heads),
        "deepest_layer": manifest.deepest_layer,
        "seconds": {"score": round(ran.seconds, 2), "total": round(time.perf_counter() - t_start, 2)},
        "texts_per_second": round(ran.rows / ran.seconds, 1) if ran.rows and ran.seconds > 0 else None,
        "peak_rss_mb": {
            "driver": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "worker": max((v.get("peak_rss_mb", 0) for v in stats.values()), default=None),
        },
        "out": str(out),
    }
    if any(v.get("null_forward") for v in stats.values()):  # a benchmark's stand-in values, not scores
        result["null_forward"] = True
    return result


def _bad_rows_shard(out: Path, manifest: ScoreManifest, plan, schema: pa.Schema) -> ScoreManifest:
    """Rows the reader rejected, as one last shard of output rows with their reason (row numbers
    after the good rows): the manifest with that shard listed."""
    bad, first_row = plan.bad_rows, plan.n_rows
    name = shard_name(len(manifest.shards))
    manifest = manifest.replace(shards=[*manifest.shards, ShardEntry(name, len(bad), bad_rows=True)])
    path = out / name
    if path.exists():
        return manifest
    columns: dict[str, list] = {f.name: [None] * len(bad) for f in schema}
    columns["row"] = list(range(first_row, first_row + len(bad)))
    columns["error"] = [f"unreadable input: {b}" for b in bad]
    write_table(pa.Table.from_pydict(columns, schema=schema), path)
    return manifest


def _count(out: Path, manifest: ScoreManifest) -> dict[str, int]:
    """Rows, errors and filtered rows over the shards of this job, read from the error column."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rows = errors = filtered = 0
    for s in manifest.shards:
        error = pq.read_table(out / s.file, columns=["error"])["error"]
        rows += len(error)
        errors += int(pc.sum(pc.is_valid(error)).as_py() or 0)
        filtered += int(pc.sum(pc.starts_with(error, FILTERED)).as_py() or 0)
    return {"rows": rows, "errors": errors - filtered, "filtered": filtered}
