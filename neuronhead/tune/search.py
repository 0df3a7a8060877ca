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

The phases live in their own modules: ``inputs`` (decode, shared Phase 1), this one (Ray Tune) and
``results`` (refits, summary, tables and plots).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback
from ray.tune.search.optuna import OptunaSearch
from tqdm.auto import tqdm

from neuronhead.tune.inputs import SearchInputs, prepare_inputs
from neuronhead.tune.leaderboard import leaderboard_rows, pareto_rows
from neuronhead.tune.options import TuneEngine, TuneOptions
from neuronhead.tune.results import SearchRun, refit_heads, summarise, write_outputs
from neuronhead.tune.space import SearchSpace
from neuronhead.tune.trial import SCORE, TrialData, run_trial

EXPERIMENT = "search"
MODE = "max"  # SCORE is the headline metric with errors negated, so always maximised


def tune_head(
    features: str | os.PathLike,
    val_features: str | os.PathLike,
    out: str | os.PathLike,
    options: TuneOptions = TuneOptions(),
    engine: TuneEngine = TuneEngine(),
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Run (or resume) a search; returns and writes ``out/summary.json``.

    ``select_on="dev"`` (default) scores trials on a split carved from the training rows (Phase 1 is
    fitted on the rest), refits the chosen heads on every training row, and reads the validation
    features once, for the report. ``"val"`` scores trials on val: its figures are then not held out.
    """
    t_start = time.perf_counter()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    inputs = prepare_inputs(features, val_features, out, options, progress)
    run = run_search(inputs, out, options, engine, progress)
    rows = leaderboard_rows(run.finished, inputs.metric)
    front = pareto_rows(rows, inputs.metric)
    refits = refit_heads(out, rows, front, run, inputs, options.seed)
    summary = summarise(inputs, options, run, rows, refits, time.perf_counter() - t_start)
    write_outputs(out, rows, front, summary, inputs.metric)
    return summary


def run_search(
    inputs: SearchInputs, out: Path, options: TuneOptions, engine: TuneEngine, progress: bool
) -> SearchRun:
    """Start (or restore) the Ray Tune experiment and run it to the end; every finished trial."""
    import ray

    from neuronhead.cluster.connect import ensure_ray

    ensure_ray(engine.address)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    concurrent = max(1, cpus) if engine.max_concurrent == "auto" else int(engine.max_concurrent)
    threads = max(1, cpus // concurrent)
    data = inputs.trial_data(options.select_on, threads)
    storage_path = engine.storage or str(out / "ray-tune")
    path = f"{storage_path.rstrip('/')}/{EXPERIMENT}"
    bar = ProgressBar(options.trials, inputs.metric, progress)
    tuner, resumed = _tuner(data, options, concurrent, storage_path, bar)
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
    return SearchRun(finished, data, resumed, concurrent, threads, search_s, path)


def _tuner(data: TrialData, options: TuneOptions, concurrent: int, storage_path: str, bar: ProgressBar):
    """The experiment saved under ``storage_path`` restored, or a new one; and whether it was restored."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    trainable = tune.with_resources(tune.with_parameters(run_trial, data=data), {"cpu": data.threads})
    path = f"{storage_path.rstrip('/')}/{EXPERIMENT}"
    if tune.Tuner.can_restore(path):
        return tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=True), True
    space = SearchSpace(data.layers, data.probes.c_grid)
    searcher = NumberedOptunaSearch(  # a define-by-run space needs metric and mode on the searcher
        space=space,
        metric=SCORE,
        mode=MODE,
        seed=options.seed,
        points_to_evaluate=space.initial_points(data.head_defaults)[: options.trials],
    )
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            metric=SCORE,
            mode=MODE,
            search_alg=searcher,
            scheduler=ASHAScheduler(max_t=100, grace_period=options.grace_epochs, reduction_factor=3),
            num_samples=options.trials,
            max_concurrent_trials=concurrent,
            time_budget_s=options.timeout,
        ),
        run_config=tune.RunConfig(name=EXPERIMENT, storage_path=storage_path, verbose=0, callbacks=[bar]),
    )
    return tuner, False


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
