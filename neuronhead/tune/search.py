"""``neuronhead tune``: Ray Tune + Optuna (TPE) + ASHA over the head's knobs, on one cached extraction.

Phase 1 is fitted once (every layer, the whole L2 grid) and saved in the output folder; trials share
it and the features through Ray's object store and only train Phase 2, so a trial costs seconds. The
default head is the first trial, so the leaderboard shows what tuning adds. Results: a leaderboard of
every trial, the best head refitted and saved, the best head per deepest layer (the Pareto front of
metric vs scoring cost, with each front head saved), plots, and ``summary.json``.

Reproducible: the seed fixes the sampler, trials are deterministic, and with one trial at a time
(the default) the same command gives the same leaderboard. More concurrent trials are faster, but TPE
and ASHA then see results in arrival order, which can change the search path. A search interrupted or
finished resumes from its storage folder.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from ray.tune import Callback
from ray.tune.search.optuna import OptunaSearch
from tqdm.auto import tqdm

from neuronhead.heads.artifact import extraction_info, save_head
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.mapped import decode_store
from neuronhead.heads.probes_store import load_probes, read_probes_info, save_probes
from neuronhead.heads.select import SelectOptions, selection_parts
from neuronhead.heads.storeset import StoreSet
from neuronhead.heads.train import check_same_extraction, metric_of, task_of
from neuronhead.store import read_manifest, write_atomic, write_json
from neuronhead.tune.leaderboard import leaderboard_rows, markdown, pareto_rows, row_score, write_csv
from neuronhead.tune.plots import plot_pareto, plot_trials
from neuronhead.tune.space import SearchSpace
from neuronhead.tune.trial import SCORE, TrialData, build_head, run_trial, val_metrics

EXPERIMENT = "search"
MODE = "max"  # SCORE is the headline metric with errors negated, so always maximised
PHASE2_BYTES = 2**28  # a trial's Phase-2 inputs past 256 MiB are made per batch (wide selections)


def _head_defaults(seed: int) -> dict[str, Any]:
    params = NeuronHead().get_params()
    params.pop("task")
    params.pop("probe_params")
    return params | {"seed": seed}


def shared_phase1(
    folder: Path,
    data: StoreSet,
    mask: np.ndarray | None,
    *,
    task: str,
    metric: str,
    label_names: list[str] | None,
    features: str,
    progress: bool,
):
    """Fit Phase 1 once, streamed from the store on the rows of ``mask``, or reuse the one a previous
    run of this search saved."""
    key = {"features": str(Path(features).resolve()), "task": task, "metric": metric}
    info = read_probes_info(folder)
    if info is not None and info.get("key") == key:
        return load_probes(folder), True
    head = NeuronHead(task, progress=progress)
    probes = head.make_probes()
    if task == "classification":
        probes.select = metric
    probes = data.fit_probes(probes, mask=mask, label_names=label_names, progress=progress)
    save_probes(probes, folder, {"key": key})
    return probes, False


def tune_head(
    features: str | os.PathLike,
    val_features: str | os.PathLike,
    out: str | os.PathLike,
    *,
    trials: int = 50,
    timeout: float | None = None,
    max_concurrent: int | str = 1,
    metric: str | None = None,
    task: str | None = None,
    seed: int = 0,
    storage: str | None = None,
    address: str | None = None,
    grace_epochs: int = 4,
    select_on: str = "dev",
    dev_fraction: float = 0.2,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) a search; returns and writes ``out/summary.json``.

    ``select_on="dev"`` (default) scores trials on a split carved from the training rows (Phase 1 is
    fitted on the rest), refits the chosen heads on every training row, and reads the validation
    features once, for the report. ``"val"`` scores trials on val: its figures are then not held out.
    """
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    from neuronhead.cluster.connect import ensure_ray

    t_start = time.perf_counter()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(features)
    task = task_of(manifest, task)
    metric = metric_of(manifest, task, metric)
    check_same_extraction(manifest, read_manifest(val_features), f"validation features {val_features}")
    label_names = manifest.get("label_names") if task == "classification" else None
    layers = list(manifest["layers"])
    ytype = np.float64 if task == "regression" else np.int64

    if select_on not in ("dev", "val"):
        raise ValueError(f"select_on must be 'dev' or 'val', not {select_on!r}")
    t0 = time.perf_counter()
    tr, va = StoreSet(features, task), StoreSet(val_features, task)
    # Decoded once into memory-mapped files that every trial reads: search rows first, dev rows last.
    dev = np.zeros(len(tr), bool)
    if select_on == "dev":
        dev = selection_parts(tr.rows, SelectOptions(select_on="dev", dev_fraction=dev_fraction))[0]
    order = np.concatenate([np.flatnonzero(~dev), np.flatnonzero(dev)])
    X, row_ids, y = decode_store(tr.part(), out / "features" / "train.f16", order, tr.options, progress)
    Xv, _, yv = decode_store(va.part(), out / "features" / "val.f16", None, va.options, progress)
    y, yv, n_search = y.astype(ytype), yv.astype(ytype), int((~dev).sum())
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    search_on = (X.rows(0, n_search), y[:n_search], row_ids[:n_search])
    scored_on = (X.rows(n_search), y[n_search:]) if select_on == "dev" else (Xv, yv)
    phase1 = {"task": task, "metric": metric, "label_names": label_names, "progress": progress}
    on = f"{features}|{select_on}|{dev_fraction}"
    probes, reused = shared_phase1(out / "phase1", tr, ~dev if dev.any() else None, features=on, **phase1)
    full_probes = probes
    if select_on == "dev":  # the refits train on every row: Phase 1 too
        full_probes, _ = shared_phase1(out / "phase1-full", tr, None, features=str(features), **phase1)
    phase1_s = time.perf_counter() - t0

    ensure_ray(address)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    concurrent = max(1, cpus) if max_concurrent == "auto" else int(max_concurrent)
    threads = max(1, cpus // concurrent)
    data = TrialData(
        X=search_on[0],
        y=search_on[1],
        rows=search_on[2],
        Xv=scored_on[0],
        yv=scored_on[1],
        layers=layers,
        label_names=label_names,
        probes=probes,
        task=task,
        metric=metric,
        head_defaults=_head_defaults(0),
        threads=threads,
        phase2_bytes=PHASE2_BYTES,
    )
    trainable = tune.with_resources(tune.with_parameters(run_trial, data=data), {"cpu": threads})
    storage_path = storage or str(out / "ray-tune")
    space = SearchSpace(layers, probes.c_grid)
    path = f"{storage_path.rstrip('/')}/{EXPERIMENT}"
    bar = ProgressBar(trials, metric, progress)
    if tune.Tuner.can_restore(path):
        tuner = tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=True)
        resumed = True
    else:
        resumed = False
        searcher = NumberedOptunaSearch(  # a define-by-run space needs metric and mode on the searcher
            space=space,
            metric=SCORE,
            mode=MODE,
            seed=seed,
            points_to_evaluate=space.initial_points(data.head_defaults)[:trials],
        )
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                metric=SCORE,
                mode=MODE,
                search_alg=searcher,
                scheduler=ASHAScheduler(max_t=100, grace_period=grace_epochs, reduction_factor=3),
                num_samples=trials,
                max_concurrent_trials=concurrent,
                time_budget_s=timeout,
            ),
            run_config=tune.RunConfig(name=EXPERIMENT, storage_path=storage_path, verbose=0, callbacks=[bar]),
        )
    t0 = time.perf_counter()
    grid = tuner.fit()
    search_s = time.perf_counter() - t0
    bar.close()

    finished = []
    for r in grid:
        if r.metrics and SCORE in r.metrics:
            finished.append({"trial": int(r.config["trial"]), "config": r.config, "metrics": r.metrics})
    if not finished:
        raise RuntimeError(f"no trial of {path} finished; see the errors there")
    rows = leaderboard_rows(finished, metric)
    front = pareto_rows(rows, metric)
    trial_s = [t["metrics"].get("time_total_s", 0.0) for t in finished]

    # Refit the best head, and the best head of each depth on the front, from the shared Phase 1.
    by_trial = {t["trial"]: t for t in finished}
    best = by_trial[rows[0]["trial"]]
    meta_base = {
        "model": manifest["model"],
        "extraction": extraction_info(manifest),
        "train_features": str(Path(features).resolve()),
        "metric": metric,
        "tuning": {"search": str(out), "seed": seed},
    }
    refits = {}
    refit_data = replace(data, X=X, y=y, rows=row_ids, Xv=Xv, yv=yv, probes=full_probes)
    for name, trial in [("best-head", best)] + [
        (f"pareto/layer-{p['deepest_layer']}", by_trial[p["trial"]]) for p in front if p["on_front"]
    ]:
        head = build_head(trial["config"], refit_data)
        m = val_metrics(head, refit_data, head.decision(Xv.array(), layers))
        save_head(
            head,
            out / name,
            meta_base
            | {
                "val_metrics": m,
                "tuning": {**meta_base["tuning"], "trial": trial["trial"], "config": _plain(trial["config"])},
            },
        )
        refits[name] = {"trial": trial["trial"], metric: round(m[metric], 4), "folder": str(out / name)}
    for p in front:
        refit = refits.get(f"pareto/layer-{p['deepest_layer']}", {})
        # A trial that ASHA stopped is refitted to its own early stop, so its head can differ a little.
        p[f"head_{metric}"] = refit.get(metric)
        p["head"] = f"pareto/layer-{p['deepest_layer']}" if refit else ""  # relative to the search folder

    default = by_trial.get(0)
    summary: dict[str, Any] = {
        "metric": metric,
        "task": task,
        "trials": len(finished),
        "seed": seed,
        "max_concurrent": concurrent,
        "threads_per_trial": threads,
        "resumed": resumed,
        "phase1_reused": reused,
        "selected_on": select_on,
        "reported_on": "val",
        "val_is_held_out": select_on != "val",
        "best": {"trial": best["trial"], metric: rows[0][metric], "config": _plain(best["config"])},
        "default_head": None if default is None else {"trial": 0, metric: _val(default, metric)},
        "refits": refits,
        "seconds": {
            "load": round(load_s, 1),
            "phase1": round(phase1_s, 1),
            "search": round(search_s, 1),
            "trial_mean": round(float(np.mean(trial_s)), 2),
            "trial_median": round(float(np.median(trial_s)), 2),
            "total": round(time.perf_counter() - t_start, 1),
        },
        "storage": path,
    }
    if default is not None:
        default_row = next(r for r in rows if r["trial"] == 0)
        summary["margin_over_default"] = round(row_score(rows[0], metric) - row_score(default_row, metric), 4)
    _write_outputs(out, rows, front, summary, metric)
    return summary


def _val(trial: dict[str, Any], metric: str) -> float:
    return trial["metrics"][f"val_{metric}"]


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in config.items()}


def _write_outputs(out: Path, rows, front, summary, metric: str) -> None:
    write_csv(rows, out / "leaderboard.csv")
    write_csv(front, out / "pareto.csv")
    on = summary.get("selected_on", "val")
    head = [
        f"# Tuning leaderboard ({summary['trials']} trials, {metric} on {on}, seed {summary['seed']})",
        "",
    ]
    head += [f"Trials are scored on {on}; the refitted heads' `{metric}` in summary.json is on val.", ""]
    if summary.get("default_head"):
        head.append(
            f"Best: {summary['best'][metric]} (trial {summary['best']['trial']}); default head (trial 0): "
            f"{summary['default_head'][metric]:.5g}; margin {summary['margin_over_default']:+.4g}."
        )
        head.append("")
    text = "\n".join(head) + "\n" + markdown(rows)
    text += "\n## Best head per deepest layer (Pareto front: metric vs scoring depth)\n\n" + markdown(front)
    write_atomic(out / "leaderboard.md", lambda tmp: Path(tmp).write_text(text))
    plots = plot_trials(rows, metric, out / "plots")
    plots.append(plot_pareto(front, rows, metric, out / "plots" / "tune-pareto.png"))
    summary["plots"] = [str(p) for p in plots]
    write_json(summary, out / "summary.json")


class NumberedOptunaSearch(OptunaSearch):
    """Adds Optuna's trial number to each config: a stable trial id for the leaderboard."""

    def suggest(self, trial_id: str):
        config = super().suggest(trial_id)
        if isinstance(config, dict):
            config["trial"] = self._ot_trials[trial_id].number
        return config


class ProgressBar(Callback):
    """One tqdm step per finished trial, showing the best metric so far."""

    def __init__(self, total: int, metric: str, enabled: bool = True) -> None:
        self.metric = metric
        self.bar = tqdm(total=total, desc="tuning", unit="trial", disable=not enabled)
        self.best: float | None = None

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        r = trial.last_result or {}
        if SCORE in r and (self.best is None or r[SCORE] > self.best):
            self.best = r[SCORE]
            self.bar.set_postfix({f"best {self.metric}": f"{r[f'val_{self.metric}']:.3f}"})
        self.bar.update(1)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
