"""``neuronhead run``: labelled texts → features → head (or a search) → evaluation → scores → report.

Each stage writes into ``OUT`` and records itself in ``OUT/run.json`` (see :mod:`.stages`); a rerun
reuses every finished stage, and extraction and scoring also resume inside a stage, shard by shard.

    OUT/features/{train,val,test}/   extractions (with final hidden states when baselines are on)
    OUT/head/                        the default two-phase head, its report.json, ranking and plots
    OUT/tune/                        the search, with --tune N (its best-head/ becomes the head)
    OUT/scores/                      scored --score data
    OUT/report.html, OUT/report.md   the report
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from neuronhead.evaluation.metrics import confusion, task_metrics
from neuronhead.fitting.select import SelectOptions
from neuronhead.fitting.train import FitOptions, fit_head
from neuronhead.heads.artifact import load_head
from neuronhead.heads.plots import plot_confusion
from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Capture, Engine, Output, Reading
from neuronhead.pipelines.scoring import score
from neuronhead.run.config import RunConfig
from neuronhead.run.explanations import EXPLANATIONS, explain_examples
from neuronhead.run.report import write_report
from neuronhead.run.stages import StageLog, stage_key
from neuronhead.store import load_features, read_features_manifest, write_json
from neuronhead.tweets.options import TweetOptions

HEAD_NAME = "head"  # scored columns are head_label, head_label_id, head_scores


def _val_source(config: RunConfig) -> tuple[str, str | None]:
    """``--val``, else the ``val`` split of a TweetEval-style train folder; anything else is refused."""
    if config.val is not None:
        return config.val, config.val_split
    folder = Path(config.train)
    if folder.is_dir() and (folder / f"{config.val_split}_text.txt").exists():
        return config.train, config.val_split
    raise ValueError(f"give --val: {config.train} has no {config.val_split!r} split to validate on")


def run(config: RunConfig, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) every stage; returns the summary also written to ``OUT/run.json``."""
    t_start = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    val_data, val_split = _val_source(config)
    splits = {"train": (config.train, config.train_split), "val": (val_data, val_split)}
    if config.test:
        splits["test"] = (config.test, config.test_split)
    total = len(splits) + 3 + bool(config.tune) + bool(config.score) + bool(config.explain_texts)
    log = StageLog(out, total, progress)
    log.set(config=config.to_dict(), started=datetime.now(UTC).isoformat(timespec="seconds"))

    features = _extract_splits(config, splits, log, progress)
    fp = {name: read_features_manifest(f).fingerprint for name, f in features.items()}
    chosen = _fit_default_head(config, features, fp, log, progress)
    if config.tune:
        chosen = _tune(config, features, fp, log, progress)
    with log.stage("evaluate", "", f"evaluate {chosen.relative_to(out)} on " + ", ".join(features)) as rec:
        evaluations = {name: evaluate(chosen, f, out / "plots", name) for name, f in features.items()}
        rec.update(head=str(chosen.relative_to(out)), key=stage_key(_head_hash(chosen), fp))
    if config.explain_texts:
        _explain(config, chosen, features["val"], log)
    scores = _score(config, chosen, log, progress) if config.score else None

    with log.stage("report", "", f"report → {out / 'report.html'} and report.md") as rec:
        paths = write_report(out, config, log.data, features, chosen, evaluations, scores)
        rec.update(key=stage_key(time.time()), files=[str(p) for p in paths])
    summary = {
        "head": str(chosen),
        "metric": evaluations["val"]["metric"],
        "val": evaluations["val"]["metrics"],
        "test": evaluations.get("test", {}).get("metrics"),
        "report": str(out / "report.html"),
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    log.set(summary=summary, finished=datetime.now(UTC).isoformat(timespec="seconds"))
    return summary


def _extract_splits(
    config: RunConfig, splits: dict[str, tuple[str, str | None]], log: StageLog, progress: bool
) -> dict[str, Path]:
    """One extraction stage per split; validation and test labels are read with training's mapping."""
    out = Path(config.out)
    features: dict[str, Path] = {}
    label_options: dict[str, Any] = {}
    for name, (data, split) in splits.items():
        folder = out / "features" / name
        before = _complete(folder)
        what = f"extract {data}" + (f" ({split})" if Path(data).is_dir() else "") + f" → {folder}"
        with log.stage(f"extract {name}", "", what) as rec:
            reading = Reading(
                split=split,
                text_column=config.text_column,
                id_column=config.id_column,
                label_column=config.label_column,
                normalize=config.normalize,
                **{"label_kind": config.label_kind, **label_options},
            )
            manifest = extract(
                data,
                folder,
                model=config.model,
                capture=Capture(max_length=config.max_length, embeddings=config.baselines),
                reading=reading,
                engine=Engine(config.engine, config.address),
                output=Output(progress=progress),
            )
            rec.update(
                key=manifest.fingerprint,
                reused=before,
                rows=manifest.rows,
                errors=manifest.errors or 0,
                truncated=manifest.truncated or 0,
                texts_per_second=manifest.texts_per_second,
                extract_seconds=manifest.total_seconds,
            )
        features[name] = folder
        if name == "train":  # validation and test labels are read with the training mapping
            label_options = {"label_kind": manifest.label_kind}
            if manifest.label_names:
                label_options["label_names"] = manifest.label_names
    return features


def _fit_default_head(
    config: RunConfig, features: dict[str, Path], fp: dict[str, str], log: StageLog, progress: bool
) -> Path:
    """The default two-phase head (with its baselines and depth curve) in ``OUT/head``."""
    out = Path(config.out)
    params = config.head_settings()
    key = stage_key(
        fp["train"], fp["val"], config.task, config.metric, params, config.baselines, config.prefer,
        config.select_on,
    )  # fmt: skip
    with log.stage(
        "head", key, "Phase 1 probes → salient neurons → Phase 2 (+ baselines, depth curve)"
    ) as rec:
        if not rec["reused"]:
            report = fit_head(
                features["train"],
                out / "head",
                val_features=features["val"],
                task=config.task,
                metric=config.metric,
                params=params,
                options=FitOptions(
                    select=None
                    if config.select_on == "none"
                    else SelectOptions(prefer=config.prefer, select_on=config.select_on),
                    address=config.address,  # joining a cluster: Phase 1 on Ray Train workers (engine auto)
                    baselines=config.baselines,
                    progress=progress,
                ),
            )
            rec.update(
                rows=report["train_rows"], metric=report["metric"], val=report["val"][report["metric"]]
            )
    return out / "head"


def _tune(
    config: RunConfig, features: dict[str, Path], fp: dict[str, str], log: StageLog, progress: bool
) -> Path:
    """The search, with ``--tune N``; its best head replaces the default one."""
    out = Path(config.out)
    # Ray Tune and Optuna are slow to import: only tuned runs pay for them
    from neuronhead.tune import TuneEngine, TuneOptions, tune_head

    key = stage_key(fp["train"], fp["val"], config.task, config.metric, config.seed, config.tune)
    with log.stage("tune", key, f"search {config.tune} trials (Ray Tune + Optuna TPE, ASHA)") as rec:
        if not rec["reused"]:
            options = TuneOptions(
                trials=config.tune,
                timeout=config.tune_timeout,
                metric=config.metric,
                task=config.task,
                seed=config.seed,
            )
            summary = tune_head(
                features["train"],
                features["val"],
                out / "tune",
                options,
                TuneEngine(address=config.address),
                progress=progress,
            )
            rec.update(trials=summary["trials"], best=summary["best"], default_head=summary["default_head"])
    return out / "tune" / "best-head"


def _explain(config: RunConfig, chosen: Path, val: Path, log: StageLog) -> None:
    """``OUT/explanations.json``: a few validation texts per class, explained (for the report)."""
    out = Path(config.out) / EXPLANATIONS
    key = stage_key(_head_hash(chosen), read_features_manifest(val).fingerprint, config.explain_texts)
    with log.stage("explain", key, f"explain {config.explain_texts} validation texts per class") as rec:
        if not rec["reused"] or not out.exists():
            write_json(explain_examples(chosen, val, config.explain_texts), out)
        rec.update(key=key, file=str(out))


def _score(config: RunConfig, chosen: Path, log: StageLog, progress: bool) -> dict[str, Any]:
    """Score ``--score`` with the chosen head into ``OUT/scores``."""
    out = Path(config.out)
    with log.stage("score", "", f"score {config.score} → {out / 'scores'}") as rec:
        reading = Reading(
            split=config.score_split,
            text_column=config.text_column,
            id_column=config.id_column,
            normalize=config.normalize,
            tweets=TweetOptions.from_args(config.retweets, config.dedupe, config.lang),
        )
        scores = score(
            [f"{HEAD_NAME}={chosen}"],
            config.score,
            out / "scores",
            reading=reading,
            engine=Engine(config.engine, config.address),
            output=Output(progress=progress),
        )
        rec.update(
            key=stage_key(
                _head_hash(chosen),
                config.score,
                config.score_split,
                *(config.normalize, config.retweets, config.dedupe, config.lang),
            ),
            rows=scores["rows_in"],
            errors=scores["errors"],
            filtered=scores["filtered"],
            texts_per_second=scores["texts_per_second"],
            reused=scores["texts_per_second"] is None,
        )
    return scores


def _complete(folder: Path) -> bool:
    try:
        return read_features_manifest(folder).complete
    except FileNotFoundError:
        return False


def _head_hash(folder: Path) -> str:
    return hashlib.sha256((folder / "head.safetensors").read_bytes()).hexdigest()[:16]


def evaluate(head_folder: Path, features: Path, plots: Path, name: str) -> dict[str, Any]:
    """Metrics, confusion matrix (plotted) and per-row predictions of a saved head on one split."""
    head, info = load_head(head_folder)
    data = load_features(features, layers=head.layers_, dtype=np.float16)
    y = data["label"].astype(np.float64 if head.task == "regression" else np.int64)
    t0 = time.perf_counter()
    pred = head.predict(data["X"], head.layers_)
    seconds = time.perf_counter() - t0
    result: dict[str, Any] = {
        "rows": len(y),
        "metric": info.metric,
        "metrics": task_metrics(head.task, y, pred, head.label_names_),
        "head_seconds": round(seconds, 3),
    }
    if head.label_names_:
        cm = confusion(y, pred, len(head.label_names_))
        plots.mkdir(parents=True, exist_ok=True)
        result["confusion"] = cm.tolist()
        result["confusion_plot"] = str(plot_confusion(cm, head.label_names_, plots / f"confusion_{name}.png"))
        result["predicted_shares"] = {n: float(np.mean(pred == i)) for i, n in enumerate(head.label_names_)}
    (plots.parent / "evaluation").mkdir(exist_ok=True)
    write_json(result, plots.parent / "evaluation" / f"{name}.json")
    return result
