"""``neuronhead score``: texts → every head's predictions, in Parquet shards, without losing a row.

One pass of the model serves all heads that share it, stopping after the deepest layer any of them
needs. Rows the reader rejects (undecodable, wrong type…) are not dropped: they are written as rows with
an ``error`` (file, line and problem) in one extra shard. Shards appear atomically and finished ones are
skipped on a rerun, so an interrupted job resumes. The job ends with ``summary.json``: rows in, scored,
errors, filtered — and rows in always equals scored + errors + filtered.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

import neuronhead
from neuronhead.data import input_warnings, plan_source, resolve_source
from neuronhead.heads.artifact import HeadError, head_bytes, head_from_bytes
from neuronhead.models.loading import resolve_model_path, weights_hash
from neuronhead.pipelines.fingerprint import key_folder
from neuronhead.pipelines.lifecycle import run_missing
from neuronhead.pipelines.options import Capture, Compute, Engine, Reading
from neuronhead.pipelines.scorer import ScorerSettings, ShardScorer, score_schema
from neuronhead.pipelines.shards import auto_shard_rows, plan_shards
from neuronhead.store import MANIFEST, SHARDS, shard_name, write_json, write_table
from neuronhead.tweets.options import FILTERED

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NO_LABEL = "\x00no label column"  # scoring never reads labels: a label problem is not a scoring problem


def parse_head_specs(specs: list[str]) -> list[tuple[str, Path]]:
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


def _check_heads(
    blobs: list[dict[str, Any]], model: str | None, force: bool, normalize: str = "auto"
) -> tuple[Path, dict]:
    """All heads must come from one model and one extraction setting; returns the model path.

    An explicit ``normalize`` decides how texts are read, so then heads may differ in it.
    """
    first = blobs[0]["info"]
    ignore = set() if normalize == "auto" else {"normalize"}
    for b in blobs[1:]:
        if b["info"]["model"].get("weights_sha256") != first["model"].get("weights_sha256"):
            raise HeadError(
                f"heads {blobs[0]['where']} and {b['where']} were trained on different models; "
                "score them in separate jobs"
            )
        if _extraction(b["info"], ignore) != _extraction(first, ignore):
            raise HeadError(
                f"heads {blobs[0]['where']} and {b['where']} were trained on features extracted "
                f"differently ({b['info'].get('extraction')} vs {first.get('extraction')})"
            )
    expected = first["model"].get("weights_sha256")
    if model is None:
        candidates = [first["model"].get("path"), first["model"].get("name")]
        model_path = next((Path(c) for c in candidates if c and Path(c).is_dir()), None)
        if model_path is None:
            model_path = resolve_model_path(first["model"].get("name"))
    else:
        model_path = resolve_model_path(model)
    actual = weights_hash(model_path)
    if actual != expected and not force:
        raise HeadError(
            f"the model at {model_path} (weights {actual}) is not the one the heads were trained on "
            f"({expected}); pass --force to score anyway"
        )
    return model_path, _extraction(first)


def _extraction(info: dict, ignore: set[str] = frozenset()) -> dict:
    """How a head's features were made; heads from before ``normalize`` was recorded read ``none``."""
    made = {"normalize": "none", **(info.get("extraction") or {})}
    return {k: v for k, v in made.items() if k not in ignore}


def score(
    heads: list[str],
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    model: str | None = None,
    reading: Reading = Reading(),
    compute: Compute = Compute(),
    engine: Engine = Engine(),
    shard_rows: int | None = None,
    keep_text: bool = False,
    force: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Score ``data`` with every head into ``out``; returns (and writes) the summary.

    ``reading.normalize="auto"`` normalises texts the way the heads' training texts were (recorded in
    each head); ``reading.tweets`` filters a tweet dump (filtered rows come out with their reason in
    ``error``). Labels and ``on_bad_row`` of ``reading`` are not used: scoring reads no labels, and an
    unreadable row becomes an output row with its reason.
    """
    t_start = time.perf_counter()
    out = Path(out)
    named = parse_head_specs(heads)
    if not named:
        raise ValueError("give at least one --head")
    blobs = [head_bytes(path) | {"name": name} for name, path in named]
    model_path, extraction = _check_heads(blobs, model, force, reading.normalize)
    built = {b["name"]: head_from_bytes(b)[0] for b in blobs}
    deepest = max(h.deepest_layer_ for h in built.values())
    normalize = reading.normalize
    if normalize == "auto":
        normalize = extraction.get("normalize") or "none"
    source = resolve_source(
        data,
        split=reading.split,
        text_column=reading.text_column,
        id_column=reading.id_column,
        label_column=NO_LABEL,
        format=reading.format,
        normalize=normalize,
        tweets=reading.tweets,
    )
    tweet_columns = source.kind == "tweets"
    shard_rows = shard_rows or auto_shard_rows(2048)  # scores are small: shards of 4,096 rows
    key = {
        "heads": [[b["name"], hashlib.sha256(b["weights"]).hexdigest()] for b in blobs],
        "model_sha256": weights_hash(model_path),
        "source": {
            "kind": source.kind,
            "files": None,  # filled in by key_folder
            "split": source.split,
            "columns": [reading.text_column, reading.id_column],
        },
        "shard_rows": shard_rows,
        "keep_text": keep_text,
    }
    if tweet_columns or normalize != "none":  # only then, so earlier jobs keep their fingerprint
        key["reading"] = {"normalize": normalize, "tweets": source.tweets and source.tweets.to_json()}
    keyed = key_folder(out, key, source.files, "scores")
    fingerprint = keyed.fingerprint
    (out / SHARDS).mkdir(parents=True, exist_ok=True)

    plan = plan_source(source, on_bad_row="skip")
    shards = plan_shards(plan, shard_rows)
    manifest = {
        "kind": "scores",
        "neuronhead_version": neuronhead.__version__,
        "fingerprint": fingerprint,
        "file_stamps": [st.record() for st in keyed.stamps],
        "status": "running",
        "heads": {
            b["name"]: {
                "folder": b["where"],
                "task": b["info"]["task"],
                "label_names": b["info"].get("label_names"),
                "deepest_layer": b["info"]["deepest_layer"],
            }
            for b in blobs
        },
        "model": {"path": str(model_path), "weights_sha256": key["model_sha256"]},
        "deepest_layer": deepest,
        "source": {"kind": source.kind, "split": source.split, "files": source.files},
        "normalize": normalize,
        "tweets": source.tweets.to_json() if source.tweets else None,
        "rows_in": plan.n_rows + len(plan.bad_rows),
        "filtered": plan.filtered,
        "duplicate_ids": plan.duplicate_ids,
        "empty_files": plan.empty_files,
        "shards": [{"file": shard_name(s.shard_id), "rows": s.count} for s in shards],
    }
    for warning in input_warnings(plan):
        print(f"warning: {warning}")
    bad_file = shard_name(len(shards))
    if plan.bad_rows:
        manifest["shards"].append({"file": bad_file, "rows": len(plan.bad_rows), "bad_rows": True})
    write_json(manifest, out / MANIFEST)
    if plan.bad_rows and not (out / bad_file).exists():
        schema = score_schema(built, keep_text, tweet_columns)
        _write_bad_rows(plan.bad_rows, schema, out / bad_file, first_row=plan.n_rows)

    settings = ScorerSettings(
        model_path=str(model_path),
        heads=blobs,
        out=str(out.resolve()),
        capture=Capture(
            max_length=int(extraction.get("max_length") or 128),
            pool_special_tokens=bool(extraction.get("pool_special_tokens")),
        ),
        compute=compute,
        keep_text=keep_text,
        tweet_columns=tweet_columns,
    )
    ran = run_missing(
        out, plan, shards, ShardScorer, settings, engine=engine, desc="score", progress=progress
    )
    stats = ran.stats
    counts = _count(out, manifest)
    result = {
        "rows_in": manifest["rows_in"],
        "rows_out": counts["rows"],
        "scored": counts["rows"] - counts["errors"] - counts["filtered"],
        "errors": counts["errors"],
        "filtered": counts["filtered"],
        "filtered_by": plan.filtered,
        "bad_input_rows": len(plan.bad_rows),
        "duplicate_ids": plan.duplicate_ids,
        "empty_files": plan.empty_files,
        "heads": list(manifest["heads"]),
        "deepest_layer": deepest,
        "seconds": {"score": round(ran.seconds, 2), "total": round(time.perf_counter() - t_start, 2)},
        "texts_per_second": round(ran.rows / ran.seconds, 1) if ran.rows and ran.seconds > 0 else None,
        "peak_rss_mb": {
            "driver": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "worker": max((v.get("peak_rss_mb", 0) for v in stats.values()), default=None),
        },
        "out": str(out),
    }
    if any(v.get("null_forward") for v in stats.values()):  # a benchmark's zeros, not scores
        result["null_forward"] = True
    if result["rows_out"] != result["rows_in"]:
        raise RuntimeError(f"{out}: {result['rows_in']} rows in, {result['rows_out']} out; rerun to repair")
    manifest.update(status="complete", summary=result)
    write_json(manifest, out / MANIFEST)
    write_json(result, out / "summary.json")
    return result


def _write_bad_rows(bad, schema: pa.Schema, path: Path, first_row: int) -> None:
    """Rows the reader rejected, as output rows with their reason (row numbers after the good rows)."""
    columns: dict[str, list] = {f.name: [None] * len(bad) for f in schema}
    columns["row"] = list(range(first_row, first_row + len(bad)))
    columns["error"] = [f"unreadable input: {b}" for b in bad]
    write_table(pa.Table.from_pydict(columns, schema=schema), path)


def _count(out: Path, manifest: dict) -> dict[str, int]:
    """Rows, errors and filtered rows over the shards of this job, read from the error column."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rows = errors = filtered = 0
    for s in manifest["shards"]:
        error = pq.read_table(out / s["file"], columns=["error"])["error"]
        rows += len(error)
        errors += int(pc.sum(pc.is_valid(error)).as_py() or 0)
        filtered += int(pc.sum(pc.starts_with(error, FILTERED)).as_py() or 0)
    return {"rows": rows, "errors": errors - filtered, "filtered": filtered}
