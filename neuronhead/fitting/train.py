"""Fit a head on a feature folder, score it on validation features, write the head folder and report.

The Python API behind ``neuronhead fit`` and ``neuronhead evaluate``. Phase 1 is fitted once and
shared by the depth curve (heads on layers 0..k) and the random-neuron control, which only refit
Phase 2.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from neuronhead.cluster.engines import choose_engine, joins_cluster
from neuronhead.evaluation.bootstrap import interval, paired
from neuronhead.evaluation.metrics import confusion, headline, official_metric, task_metrics
from neuronhead.fitting.ray_train import RayTrainOptions, fit_probes_ray
from neuronhead.fitting.select import (
    DEFAULT_SELECT,
    Problem,
    SelectOptions,
    candidates,
    robust_choice,
    select_model,
)
from neuronhead.fitting.storeset import StoreSet, reads_whole_layers
from neuronhead.heads import plots
from neuronhead.heads.artifact import load_head, save_head
from neuronhead.heads.baselines import LinearBaseline
from neuronhead.heads.ensemble import make_head
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.options import HeadOptions
from neuronhead.heads.probes import split_of
from neuronhead.manifests import FeatureManifest
from neuronhead.store import read_features_manifest, shard_files, write_atomic, write_json


def task_of(manifest: FeatureManifest, task: str | None = None) -> str:
    kind = manifest.label_kind
    if not kind:
        raise ValueError("the features have no labels; a head needs labelled training data")
    inferred = "regression" if kind == "value" else "classification"
    if task and task != inferred and not (task == "regression" and kind == "class"):
        raise ValueError(f"--task {task} does not fit the labels, which are of kind {kind!r}")
    return task or inferred


def metric_of(manifest: FeatureManifest, task: str, metric: str | None = None) -> str:
    """The headline metric: given, else the TweetEval one for TweetEval folders, else macro-F1/Pearson."""
    if metric:
        return metric
    if task == "regression":
        return "pearson"
    source = manifest.source
    if source.kind == "tweeteval" and source.files:
        return official_metric(Path(source.files[0]).parent.name)
    return "macro_f1"


def check_same_extraction(train: FeatureManifest, val_features: str | os.PathLike) -> None:
    """Validation features must come from the same model, read the same way, with the same labels."""
    other, what = read_features_manifest(val_features), f"validation features {val_features}"
    a, b = train.model.weights_sha256, other.model.weights_sha256
    if a != b:
        raise ValueError(f"{what} were extracted with a different model (weights {b} vs {a})")
    for key in ("pool_special_tokens", "max_length", "label_names"):
        mine, theirs = getattr(train, key), getattr(other, key)
        if mine != theirs:
            raise ValueError(f"{what} differ from the training features in {key}: {theirs} vs {mine}")


TRAIN_MEMORY_GB = 64.0  # `auto` trains on Ray Train workers above this store size (float16 features)


def resolve_train_engine(engine: str, features: str | os.PathLike, address: str | None) -> str:
    """``auto`` → ``ray`` when joining a cluster (``address``, or ``RAY_ADDRESS`` set) or when the store
    is larger than ``NEURONHEAD_TRAIN_MEMORY_GB`` (default 64), else ``local``: one process streaming
    the store, its memory bounded by the stream options whatever the store's size."""

    def too_large() -> bool:
        budget = float(os.environ.get("NEURONHEAD_TRAIN_MEMORY_GB", TRAIN_MEMORY_GB))
        return sum(p.stat().st_size for p in shard_files(features)) > budget * 2**30

    return choose_engine(engine, joining=joins_cluster(address), ray_pays=too_large, what="train_engine")


@dataclass(frozen=True)
class FitOptions:
    """What :func:`fit_head` does beyond fitting the head its ``params`` describe.

    ``select`` chooses among heads, shallower heads and probes on rows carved from the training data
    (:mod:`neuronhead.fitting.select`); ``None`` ships the head ``params`` describe, unchosen.
    ``train_engine``/``train_workers``/``address``: where Phase 1 trains (:func:`resolve_train_engine`).
    ``baselines``, ``depth_curve`` and ``plots`` add comparisons and figures to the report.
    """

    select: SelectOptions | None = DEFAULT_SELECT
    train_engine: str = "auto"
    train_workers: int = 1
    address: str | None = None
    baselines: bool = False
    depth_curve: bool = True
    plots: bool = True
    progress: bool = True


def fit_head(
    features: str | os.PathLike,
    out: str | os.PathLike,
    *,
    val_features: str | os.PathLike | None = None,
    val_fraction: float = 0.0,
    task: str | None = None,
    metric: str | None = None,
    params: HeadOptions | Mapping[str, Any] | None = None,
    options: FitOptions = FitOptions(),
) -> dict[str, Any]:
    """Choose, fit and write the model to ship; returns (and writes to ``out/report.json``) every figure.

    ``params``: the head's options (what ``fit`` and ``run`` take as flags), or
    :class:`~neuronhead.heads.head.NeuronHead` parameters by name; ``None`` keeps its defaults.

    Validation data is read after the choice and reported once. Without ``val_features``,
    ``val_fraction`` of the training rows (a stable hash of the row number) is held out for it.
    """
    out = Path(out)
    manifest = read_features_manifest(features)
    problem = _problem(manifest, task, metric, params)
    t0 = time.perf_counter()
    tr, val = _train_and_val(features, manifest, problem.task, val_features, val_fraction)
    seconds = {"load": round(time.perf_counter() - t0, 1)}

    t0 = time.perf_counter()
    selection = (
        None if options.select is None else _select(tr, val, problem, options.select, options.progress)
    )
    params = problem.base  # what the user asked for: the default head of the curves and comparators
    if selection is not None:
        params = {k: v for k, v in selection["chosen_params"].items() if k != "task"}
    seconds["select"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    engine = resolve_train_engine(options.train_engine, features, options.address)
    head = make_head(problem.task, progress=options.progress, **params)
    _fit_shipped(head, tr, problem, engine, out, options)
    seconds["fit"] = round(time.perf_counter() - t0, 1)
    report: dict[str, Any] = {
        "task": problem.task,
        "metric": problem.metric,
        "train_rows": len(tr.y),
        "val_source": str(val_features)
        if val_features is not None
        else (f"{val_fraction:.0%} of the training rows" if val is not None else None),
        "layers": list(problem.layers),
        "selection": selection,
        "val_is_held_out": selection is None or selection["select_on"] != "val",
        "head": _head_summary(head),
        "phase1": head.phase1_,
        "phase2": {k: v for k, v in head.phase2_.items() if k != "history"},
        "seconds": seconds,
        "train_engine": engine,
    }
    if engine == "ray":  # the layers each worker owned, and the epoch a restarted group resumed from
        report["phase1_resumed_from"] = head.probes_.resumed_from_
        report["train_workers"] = len(head.probes_.layer_groups_)
        report["layer_groups"] = head.probes_.layer_groups_
    pred = None
    if val is not None:
        pred = val.predict(head)
        _report_val(report, head, tr, val, pred, problem.base, options)
    _write_outputs(out, head, report, manifest, features, options)
    if options.plots:
        yv = None if val is None else val.y
        report["plots"] = _plots(head, report, pred, yv, problem.label_names, out / "plots")
    preds = report.pop("_val_predictions", None)
    if preds is not None:  # for pooling (stance) and paired comparisons across runs
        write_json({k: np.asarray(v).tolist() for k, v in preds.items()}, out / "val_predictions.json")
    write_json(report, out / "report.json")
    return report


def _problem(manifest: FeatureManifest, task: str | None, metric: str | None, params) -> Problem:
    """The task, its headline metric, the layers and labels, and the head parameters asked for (the
    estimator's names: where the head's options become them)."""
    task = task_of(manifest, task)
    metric = metric_of(manifest, task, metric)
    label_names = manifest.label_names if task == "classification" else None
    params = params.head_params() if isinstance(params, HeadOptions) else dict(params or {})
    if task == "classification":  # each layer's L2 strength is picked by the headline metric
        params["probe_params"] = {"select": metric, **params.get("probe_params", {})}
    return Problem(task, metric, list(manifest.layers), label_names, params)


def _train_and_val(
    features, manifest: FeatureManifest, task: str, val_features, val_fraction: float
) -> tuple[StoreSet, StoreSet | None]:
    """The training rows (labels now; features streamed from the store when needed) and the
    validation rows: another folder, a held-out fraction of train, or none."""
    tr = StoreSet(features, task)
    if val_features is None and val_fraction > 0:
        return _hold_out(tr, val_fraction)
    if val_features is not None:
        check_same_extraction(manifest, val_features)
        return tr, StoreSet(val_features, task)
    return tr, None


def _fit_shipped(
    head: NeuronHead, tr: StoreSet, problem: Problem, engine: str, out: Path, options: FitOptions
) -> NeuronHead:
    """Phase 1 streamed in this process, or as a Ray Train job (layer groups over the workers,
    resumable from ``out/ray-train``); then the head's Phase 2."""
    if engine == "ray":
        run = RayTrainOptions(out / "ray-train", num_workers=options.train_workers, address=options.address)
        probes = fit_probes_ray(
            tr.folder, head.make_probes(), rows=tr.part().train, stream=tr.options, options=run
        )
    else:
        probes = tr.fit_probes(head.make_probes(), label_names=problem.label_names, progress=options.progress)
    return tr.fit_head(head, probes, label_names=problem.label_names)


def _write_outputs(
    out: Path, head: NeuronHead, report: dict, manifest: FeatureManifest, features, options: FitOptions
) -> None:
    """The head folder (the head and its provenance) and the neuron ranking."""
    selection = report["selection"]
    meta = {
        "model": manifest.model.to_json(),
        "extraction": manifest.extraction().to_json(),
        "train_features": str(Path(features).resolve()),
        "metric": report["metric"],
        "val_metrics": report.get("val"),
        "selection": None if selection is None else {k: selection[k] for k in ("select_on", "chosen", "why")},
    }
    save_head(head, out, meta)
    _write_ranking(head, report["layers"], out / "ranking.csv")


def _select(
    tr: StoreSet, val: StoreSet | None, problem: Problem, options: SelectOptions, progress: bool
) -> dict[str, Any]:
    """Run model selection (``prefer="cheaper"``); ``val`` is handed over only when the user asked
    to select on it. ``prefer="robust"`` runs none: its fixed model's record."""
    if options.prefer == "robust":
        return robust_choice(problem)
    options = options.resolved(len(tr))
    if options.select_on != "val":
        val = None
    elif val is None:
        raise ValueError("--select-on val needs validation data (--val or --val-features)")
    if progress:
        print(f"model selection on {options.select_on}: heads, shallower heads and probes", flush=True)
    seeded = replace(problem, base={**problem.base, "seed": problem.base.get("seed", 0)})
    return select_model(tr, seeded, options, val=val, progress=progress)


def _head_summary(head: NeuronHead) -> dict[str, Any]:
    return {
        "variant": head.variant,
        "layers": head.layers_,
        "deepest_layer": head.deepest_layer_,
        "n_neurons": head.n_neurons_,
        "neuron_fraction": head.neuron_fraction_,
        "neurons_per_layer": {int(k): len(v) for k, v in head.neurons_.items()},
    }


def _report_val(report, head, tr: StoreSet, val: StoreSet, pred, params, options: FitOptions) -> None:
    """Val figures of the shipped model, with 95% intervals, its comparators and the curves."""
    task, metric, layers = report["task"], report["metric"], report["layers"]
    label_names, yv = head.label_names_, val.y
    report["val"] = task_metrics(task, yv, pred, label_names)
    report["val_interval"] = interval(yv, pred, metric, label_names)
    per_layer = head.probes_.predict_from_layer_decisions(val.layer_decisions(head.probes_))
    report["per_layer"] = {
        int(layer): task_metrics(task, yv, p, label_names)
        for layer, p in zip(layers, per_layer.T, strict=True)
    }
    report["_val_predictions"] = {"label": yv, "shipped": pred}
    shared = _shared_columns(head, tr, val, params, layers)
    report["comparators"] = _comparators(head, tr, val, pred, params, report, shared)
    if options.depth_curve:
        report["depth_curve"] = {}
        for k in tqdm(layers, desc="heads on layers 0..k", unit="head", disable=not options.progress):
            h = NeuronHead(task, **{**params, "min_layer": None, "max_layer": k})
            tr.fit_head(h, head.probes_, label_names=label_names, gathered=shared[0])
            report["depth_curve"][int(k)] = task_metrics(
                task, yv, val.predict(h, gathered=shared[1]), label_names
            )
    if options.baselines:
        if options.progress:
            print("baselines: all layers concatenated, random neurons, sentence embeddings", flush=True)
        report["baselines"] = _baselines(head, tr, val, params, report)


def _shared_columns(head, tr: StoreSet, val: StoreSet, params, layers) -> tuple[Any, Any]:
    """The salient neurons of the requested head at full depth, gathered once from train and from val:
    the comparator heads and every depth-curve head share the shipped Phase 1, so each reads a subset
    of them (one pass over the store instead of one per head)."""
    full = NeuronHead(head.task, **{**params, "min_layer": None, "max_layer": None})
    if reads_whole_layers(full):
        return None, None
    neurons = full.planned_neurons(head.probes_, layers)
    return tr.gather(neurons), val.gather(neurons)


def _comparators(head, tr: StoreSet, val: StoreSet, pred, params, report, shared) -> dict[str, Any]:
    """Both Phase-2 variants at full depth, the layer probe the selection liked best and the all-layer
    probe, refitted on every training row on the shipped head's Phase 1; each with its val interval
    and a paired bootstrap against the shipped model (verdict "A": the shipped model wins)."""
    task, metric, layers = report["task"], report["metric"], report["layers"]
    sel, yv = report.get("selection"), val.y
    base = {k: v for k, v in params.items() if k != "task"} | {"max_layer": None, "min_layer": None}
    names = {c.name: c for c in candidates(base, layers, ("logits+values", "logits"))}
    wanted = [f"head[logits+values]@0..{max(layers)}", f"head[logits]@0..{max(layers)}", "all-layer probe"]
    if sel and sel["candidates"]:
        probes_ranked = [c for c in sel["candidates"] if c["kind"] == "layer_probe"]
        wanted.append(max(probes_ranked, key=lambda c: c["score"])["name"])
    else:  # no search: the layer whose Phase-1 probe scored best out of fold on train
        wanted.append(f"probe@L{layers[int(np.argmax(head.probes_.grid_score_.max(1)))]}")
    out, preds = {}, {}
    for name in wanted:
        c = names.get(name)
        if c is None:
            continue
        h = tr.fit_head(
            NeuronHead(task, **c.params), head.probes_, label_names=head.label_names_, gathered=shared[0]
        )
        preds[name] = val.predict(h, gathered=shared[1])
        out[name] = {
            "deepest_layer": h.deepest_layer_,
            "n_neurons": h.n_neurons_,
            **interval(yv, preds[name], metric, head.label_names_),
            "shipped_minus_this": paired(yv, pred, preds[name], metric, head.label_names_),
            "metrics": task_metrics(task, yv, preds[name], head.label_names_),
        }
    report["_val_predictions"].update(preds)
    return out


def _hold_out(tr: StoreSet, fraction: float) -> tuple[StoreSet, StoreSet]:
    held = split_of(tr.rows + 7_919_000_000, 1000) < round(fraction * 1000)
    return tr.subset(~held), tr.subset(held)


def _baseline_params(head: NeuronHead) -> dict[str, Any]:
    """The baselines select their L2 strength the way the head's Phase 1 did, with its class weights."""
    select = head.probe_params.get("select", "loss")
    return {"class_weight": head.class_weight, "select": select}


def _baselines(head, tr: StoreSet, val: StoreSet, params, report) -> dict[str, Any]:
    """The all-layer probe (shared with the comparators), the random-neuron control and the sentence
    embeddings, each with its val interval; their predictions join ``report["_val_predictions"]``."""
    task, label_names, yv = report["task"], head.label_names_, val.y
    n_out = len(label_names) if label_names else None
    metric, preds = report["metric"], report["_val_predictions"]
    out: dict[str, Any] = {"per_layer_probes": report["per_layer"]}
    if "all-layer probe" in report["comparators"]:
        out["all_layers_concatenated"] = report["comparators"]["all-layer probe"]["metrics"]
        preds["all_layers_concatenated"] = preds["all-layer probe"]
    rand = NeuronHead(task, **{**params, "selection": "random"})
    tr.fit_head(rand, head.probes_, label_names=label_names)
    preds["random_neurons"] = val.predict(rand)
    out["random_neurons"] = task_metrics(task, yv, preds["random_neurons"], label_names)
    out["random_neurons"]["n_neurons"] = rand.n_neurons_
    embeds = tr.manifest.embeddings and val.manifest.embeddings
    for name in ("embed_mean", "embed_token") if embeds else ():
        b = LinearBaseline(task, label_names, _baseline_params(head))
        b.fit(tr.column(name), tr.y, tr.rows, n_outputs=n_out)
        preds[name] = b.predict(val.column(name))
        out[name] = task_metrics(task, yv, preds[name], label_names)
    for name, m in out.items():
        if name != "per_layer_probes" and name in preds:
            m["interval"] = interval(yv, preds[name], metric, label_names)
    return out


def _write_ranking(head: NeuronHead, layers: list[int], path: Path) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["layer", "neuron", "importance", "rank", "salient"])
            for pos, layer in enumerate(layers):
                imp = head.probes_.importance_[pos]
                kept = set(head.neurons_.get(layer, np.array([], int)).tolist())
                for rank, j in enumerate(np.argsort(-imp, kind="stable")):
                    w.writerow([layer, int(j), f"{imp[j]:.6g}", rank, int(j in kept)])

    write_atomic(path, write)


def _plots(head, report, pred, yv, label_names, folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    metric = report["metric"]
    made = []
    if "per_layer" in report:
        series = {"single-layer probe": {k: headline(v, metric) for k, v in report["per_layer"].items()}}
        made.append(plots.plot_layer_metric(series, metric, folder / "per_layer.png"))
    if "depth_curve" in report:
        refs = {}
        for name, key in (
            ("all layers concatenated", "all_layers_concatenated"),
            ("random-neuron control", "random_neurons"),
            ("sentence embedding", "embed_mean"),
        ):
            if key in report.get("baselines", {}):
                refs[name] = headline(report["baselines"][key], metric)
        made.append(
            plots.plot_depth_curve(
                {k: headline(v, metric) for k, v in report["depth_curve"].items()},
                metric,
                folder / "depth_curve.png",
                refs,
            )
        )
    if report.get("selection") and report["selection"]["candidates"]:
        made.append(plots.plot_selection_front(report["selection"], folder / "selection_front.png"))
    made.append(
        plots.plot_salient_per_layer(
            {int(k): len(v) for k, v in head.neurons_.items()},
            head.ffn_width_,
            folder / "salient_per_layer.png",
            head.probes_.importance_,
        )
    )
    if pred is not None and label_names:
        cm = confusion(yv, pred, len(label_names))
        made.append(plots.plot_confusion(cm, label_names, folder / "confusion.png"))
    return [str(p) for p in made]


def evaluate_head(head_folder: str | os.PathLike, features: str | os.PathLike) -> dict[str, Any]:
    """Metrics of a saved head on a labelled feature folder (checked to come from the same model)."""
    head, info = load_head(head_folder)
    manifest = read_features_manifest(features)
    want = info.model.weights_sha256
    if want and manifest.model.weights_sha256 != want:
        raise ValueError(f"{features}: extracted with a different model than the head {head_folder}")
    missing = [layer for layer in head.layers_ if layer not in manifest.layers]
    if missing:
        raise ValueError(f"{features}: lacks layers {missing} that the head needs")
    if not manifest.label_kind:
        raise ValueError(f"{features}: has no labels to evaluate against")
    data = StoreSet(features, head.task)  # streamed: only the head's neurons, chunk by chunk
    y, pred = data.y, data.predict(head)
    metric = info.metric or ("pearson" if head.task == "regression" else "macro_f1")
    return {
        "rows": len(y),
        "metric": metric,
        **task_metrics(head.task, y, pred, head.label_names_),
        "interval": interval(y, pred, metric, head.label_names_),
    }
