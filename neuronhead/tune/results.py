"""What a finished search leaves: the chosen heads refitted and saved, ``summary.json``, the
leaderboard and Pareto tables (CSV and Markdown) and the plots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuronhead.heads.artifact import save_head
from neuronhead.store import write_atomic, write_json
from neuronhead.tune.inputs import SearchInputs
from neuronhead.tune.leaderboard import markdown, row_score, write_csv
from neuronhead.tune.options import TuneOptions
from neuronhead.tune.plots import plot_pareto, plot_trials
from neuronhead.tune.trial import TrialData, build_head, val_metrics


@dataclass
class SearchRun:
    """How the Ray Tune part of a search went: its finished trials and what it ran on."""

    finished: list[dict[str, Any]]  # {"trial", "config", "metrics"} per trial that reported
    data: TrialData
    resumed: bool
    concurrent: int
    threads: int
    search_s: float
    storage: str  # the experiment's folder or URI, which a rerun restores

    def by_trial(self) -> dict[int, dict[str, Any]]:
        return {t["trial"]: t for t in self.finished}


def refit_heads(
    out: Path, rows: list[dict], front: list[dict], run: SearchRun, inputs: SearchInputs, seed: int
) -> dict[str, dict]:
    """Refit the best head, and the best head of each depth on the front, on every training row;
    save each with its val metrics and note on ``front`` where it went."""
    metric = inputs.metric
    by_trial = run.by_trial()
    meta_base = {
        "model": inputs.manifest.model.to_json(),
        "extraction": inputs.manifest.extraction().to_json(),
        "train_features": str(Path(inputs.features).resolve()),
        "metric": metric,
        "tuning": {"search": str(out), "seed": seed},
    }
    refits = {}
    refit_data = inputs.refit_data(run.data)
    for name, trial in [("best-head", by_trial[rows[0]["trial"]])] + [
        (f"pareto/layer-{p['deepest_layer']}", by_trial[p["trial"]]) for p in front if p["on_front"]
    ]:
        head = build_head(trial["config"], refit_data)
        m = val_metrics(head, refit_data, head.decision(inputs.Xv.array(), inputs.layers))
        tuning = {**meta_base["tuning"], "trial": trial["trial"], "config": plain(trial["config"])}
        save_head(head, out / name, meta_base | {"val_metrics": m, "tuning": tuning})
        refits[name] = {"trial": trial["trial"], metric: round(m[metric], 4), "folder": str(out / name)}
    for p in front:
        refit = refits.get(f"pareto/layer-{p['deepest_layer']}", {})
        # A trial that ASHA stopped is refitted to its own early stop, so its head can differ a little.
        p[f"head_{metric}"] = refit.get(metric)
        p["head"] = f"pareto/layer-{p['deepest_layer']}" if refit else ""  # relative to the search folder
    return refits


def summarise(
    inputs: SearchInputs, options: TuneOptions, run: SearchRun, rows: list[dict], refits: dict, total_s: float
) -> dict[str, Any]:
    """``summary.json``: the best and default heads, the margin between them, and where time went."""
    metric = inputs.metric
    by_trial = run.by_trial()
    best, default = by_trial[rows[0]["trial"]], by_trial.get(0)
    trial_s = [t["metrics"].get("time_total_s", 0.0) for t in run.finished]
    summary: dict[str, Any] = {
        "metric": metric,
        "task": inputs.task,
        "trials": len(run.finished),
        "seed": options.seed,
        "max_concurrent": run.concurrent,
        "threads_per_trial": run.threads,
        "resumed": run.resumed,
        "phase1_reused": inputs.phase1_reused,
        "selected_on": options.select_on,
        "reported_on": "val",
        "val_is_held_out": options.select_on != "val",
        "best": {"trial": best["trial"], metric: rows[0][metric], "config": plain(best["config"])},
        "default_head": None
        if default is None
        else {"trial": 0, metric: default["metrics"][f"val_{metric}"]},
        "refits": refits,
        "seconds": {
            "load": round(inputs.load_s, 1),
            "phase1": round(inputs.phase1_s, 1),
            "search": round(run.search_s, 1),
            "trial_mean": round(float(np.mean(trial_s)), 2),
            "trial_median": round(float(np.median(trial_s)), 2),
            "total": round(total_s, 1),
        },
        "storage": run.storage,
    }
    if default is not None:
        default_row = next(r for r in rows if r["trial"] == 0)
        summary["margin_over_default"] = round(row_score(rows[0], metric) - row_score(default_row, metric), 4)
    return summary


def plain(config: dict[str, Any]) -> dict[str, Any]:
    """A config with numpy floats made Python floats, for JSON."""
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in config.items()}


def write_outputs(
    out: Path, rows: list[dict], front: list[dict], summary: dict[str, Any], metric: str
) -> None:
    """The leaderboard and Pareto tables, the plots, and ``summary.json`` (which lists the plots)."""
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
