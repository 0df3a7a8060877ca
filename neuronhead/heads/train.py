"""Fit a head on a feature folder, score it on validation features, write the head folder and report.

The Python API behind ``neuronhead fit`` and ``neuronhead evaluate``. Phase 1 is fitted once and
shared by the depth curve (heads on layers 0..k) and the random-neuron control, which only refit
Phase 2.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from neuronhead.heads.artifact import extraction_info, load_head, save_head
from neuronhead.heads.baselines import LinearBaseline
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.metrics import (
    classification_metrics,
    confusion,
    headline,
    official_metric,
    regression_metrics,
)
from neuronhead.store import load_features, read_manifest, write_atomic, write_json


def task_of(manifest: dict, task: str | None = None) -> str:
    kind = manifest.get("label_kind")
    if not kind:
        raise ValueError("the features have no labels; a head needs labelled training data")
    inferred = "regression" if kind == "value" else "classification"
    if task and task != inferred and not (task == "regression" and kind == "class"):
        raise ValueError(f"--task {task} does not fit the labels, which are of kind {kind!r}")
    return task or inferred


def metric_of(manifest: dict, task: str, metric: str | None = None) -> str:
    """The headline metric: given, else the TweetEval one for TweetEval folders, else macro-F1/Pearson."""
    if metric:
        return metric
    if task == "regression":
        return "pearson"
    source = manifest.get("source", {})
    if source.get("kind") == "tweeteval" and source.get("files"):
        return official_metric(Path(source["files"][0]).parent.name)
    return "macro_f1"


def score(task: str, y: np.ndarray, pred: np.ndarray, label_names: list[str] | None) -> dict[str, float]:
    if task == "regression":
        return regression_metrics(y, pred)
    return classification_metrics(
        y, pred, label_names or [str(i) for i in range(int(max(y.max(), pred.max())) + 1)]
    )


def _check_same_extraction(train: dict, other: dict, what: str) -> None:
    a, b = train["model"].get("weights_sha256"), other["model"].get("weights_sha256")
    if a != b:
        raise ValueError(f"{what} were extracted with a different model (weights {b} vs {a})")
    for key in ("pool_special_tokens", "max_length", "label_names"):
        if train.get(key) != other.get(key):
            raise ValueError(
                f"{what} differ from the training features in {key}: {other.get(key)} vs {train.get(key)}"
            )


def fit_head(
    features: str | os.PathLike,
    out: str | os.PathLike,
    *,
    val_features: str | os.PathLike | None = None,
    task: str | None = None,
    metric: str | None = None,
    params: dict[str, Any] | None = None,
    val_fraction: float = 0.0,
    train_engine: str = "local",
    train_workers: int = 1,
    address: str | None = None,
    baselines: bool = False,
    depth_curve: bool = True,
    plots: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Fit the two-phase head; returns (and writes to ``out/report.json``) every measured number.

    Without ``val_features``, ``val_fraction`` of the training rows (a stable hash of the row number)
    is held out for validation.
    """
    out = Path(out)
    manifest = read_manifest(features)
    task = task_of(manifest, task)
    metric = metric_of(manifest, task, metric)
    label_names = manifest.get("label_names") if task == "classification" else None
    layers = list(manifest["layers"])
    params = dict(params or {})
    if task == "classification":  # each layer's L2 strength is picked by the headline metric
        params["probe_params"] = {"select": metric, **params.get("probe_params", {})}
    t0 = time.perf_counter()
    tr = load_features(features, dtype=np.float16)
    val = None
    if val_features is None and val_fraction > 0:
        tr, val = _hold_out(tr, val_fraction)
    y = tr["label"].astype(np.float64 if task == "regression" else np.int64)
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    head = NeuronHead(task, progress=progress, **params)
    probes = None
    if train_engine == "ray":  # Phase 1 as a Ray Train job over the shards (checkpointed, resumable)
        from neuronhead.heads.ray_train import fit_probes_ray

        probes = fit_probes_ray(
            features,
            head.make_probes(),
            storage_path=out / "ray-train",
            num_workers=train_workers,
            address=address,
        )
    elif train_engine != "local":
        raise ValueError(f"train_engine must be 'local' or 'ray', not {train_engine!r}")
    head.fit(tr["X"], y, tr["row"], layers=layers, label_names=label_names, probes=probes)
    fit_s = time.perf_counter() - t0
    report: dict[str, Any] = {
        "task": task,
        "metric": metric,
        "train_rows": len(y),
        "val_source": str(val_features)
        if val_features is not None
        else (f"{val_fraction:.0%} of the training rows" if val is not None else None),
        "layers": layers,
        "head": {
            "layers": head.layers_,
            "deepest_layer": head.deepest_layer_,
            "n_neurons": head.n_neurons_,
            "neuron_fraction": head.neuron_fraction_,
            "neurons_per_layer": {int(k): len(v) for k, v in head.neurons_.items()},
        },
        "phase1": head.phase1_,
        "phase2": {k: v for k, v in head.phase2_.items() if k != "history"},
        "seconds": {"load": round(load_s, 1), "fit": round(fit_s, 1)},
        "train_engine": train_engine,
    }
    if probes is not None:  # Ray Train: the epoch a restarted worker group resumed from, if any
        report["phase1_resumed_from"] = getattr(probes, "resumed_from_", None)
        report["train_workers"] = train_workers
    if val_features is not None:
        vm = read_manifest(val_features)
        _check_same_extraction(manifest, vm, f"validation features {val_features}")
        val = load_features(val_features, layers=layers, dtype=np.float16)
    if val is not None:
        yv = val["label"].astype(np.float64 if task == "regression" else np.int64)
        pred = head.predict(val["X"], layers)
        report["val"] = score(task, yv, pred, label_names)
        report["per_layer"] = {
            int(layer): score(task, yv, p, label_names)
            for layer, p in zip(layers, head.probes_.predict_layer(val["X"]).T, strict=True)
        }
        if depth_curve:
            report["depth_curve"] = {}
            for k in tqdm(layers, desc="heads on layers 0..k", unit="head", disable=not progress):
                h = (
                    head
                    if k == head.deepest_layer_ and head.max_layer in (None, k)
                    else NeuronHead(task, **{**params, "max_layer": k}).fit(
                        tr["X"], y, tr["row"], layers=layers, label_names=label_names, probes=head.probes_
                    )
                )
                report["depth_curve"][int(k)] = score(task, yv, h.predict(val["X"], layers), label_names)
        if baselines:
            if progress:
                print("baselines: all layers concatenated, random neurons, sentence embeddings", flush=True)
            report["baselines"] = _baselines(head, tr, y, val, yv, task, layers, label_names, params, report)

    meta = {
        "model": manifest["model"],
        "extraction": extraction_info(manifest),
        "train_features": str(Path(features).resolve()),
        "metric": metric,
        "val_metrics": report.get("val"),
    }
    save_head(head, out, meta)
    _write_ranking(head, layers, out / "ranking.csv")
    if plots:
        report["plots"] = _plots(
            head,
            report,
            pred if val is not None else None,
            yv if val is not None else None,
            metric,
            label_names,
            out / "plots",
        )
    write_json(report, out / "report.json")
    return report


def _hold_out(tr: dict, fraction: float) -> tuple[dict, dict]:
    from neuronhead.heads.probes import split_of

    held = split_of(tr["row"] + 7_919_000_000, 1000) < round(fraction * 1000)
    part = {}
    for name, mask in (("train", ~held), ("val", held)):
        part[name] = {
            k: (v[mask] if isinstance(v, np.ndarray) else [x for x, m in zip(v, mask, strict=True) if m])
            for k, v in tr.items()
            if k != "manifest"
        }
        part[name]["manifest"] = tr["manifest"]
    return part["train"], part["val"]


def _baseline_params(head: NeuronHead) -> dict[str, Any]:
    """The baselines select their L2 strength the way the head's Phase 1 did, with its class weights."""
    select = head.probe_params.get("select", "loss")
    return {"class_weight": head.class_weight, "select": select, "label_names": head.label_names_}


def _baselines(head, tr, y, val, yv, task, layers, label_names, params, report) -> dict[str, Any]:
    n_out = len(label_names) if label_names else None
    out: dict[str, Any] = {"per_layer_probes": report["per_layer"]}
    t0 = time.perf_counter()
    concat = LinearBaseline(task, **_baseline_params(head)).fit(tr["X"], y, tr["row"], n_outputs=n_out)
    out["all_layers_concatenated"] = score(task, yv, concat.predict(val["X"]), label_names)
    out["all_layers_concatenated"]["seconds"] = round(time.perf_counter() - t0, 1)
    rand = NeuronHead(task, **{**params, "selection": "random"}).fit(
        tr["X"], y, tr["row"], layers=layers, label_names=label_names, probes=head.probes_
    )
    out["random_neurons"] = score(task, yv, rand.predict(val["X"], layers), label_names)
    out["random_neurons"]["n_neurons"] = rand.n_neurons_
    for name in ("embed_mean", "embed_token"):
        if name in tr and name in val:
            b = LinearBaseline(task, **_baseline_params(head))
            b.fit(tr[name], y, tr["row"], n_outputs=n_out)
            out[name] = score(task, yv, b.predict(val[name]), label_names)
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


def _plots(head, report, pred, yv, metric, label_names, folder: Path) -> list[str]:
    from neuronhead.report import plots

    folder.mkdir(parents=True, exist_ok=True)
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
    manifest = read_manifest(features)
    want = info.get("model", {}).get("weights_sha256")
    if want and manifest["model"].get("weights_sha256") != want:
        raise ValueError(f"{features}: extracted with a different model than the head {head_folder}")
    missing = [layer for layer in head.layers_ if layer not in manifest["layers"]]
    if missing:
        raise ValueError(f"{features}: lacks layers {missing} that the head needs")
    data = load_features(features, layers=head.layers_, dtype=np.float16)
    if "label" not in data:
        raise ValueError(f"{features}: has no labels to evaluate against")
    y = data["label"].astype(np.float64 if head.task == "regression" else np.int64)
    pred = head.predict(data["X"], head.layers_)
    return {"rows": len(y), "metric": info.get("metric"), **score(head.task, y, pred, head.label_names_)}
