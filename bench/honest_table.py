"""The seven TweetEval tasks, honestly: chosen on train, reported once on val, with 95% intervals.

For each task (and each stance target) ``neuronhead fit`` runs with its defaults: since 2026-12-07 the
ensemble of the all-layer probe and the two-phase head (``--prefer robust``, no search); before, the
model chosen among heads, shallower heads and probes on a split carved from train (``--prefer
cheaper``). It is fitted on all of train and scored once on val. Beside it, refitted on the same
Phase 1: both Phase-2 variants at full depth, the best layer probe (chosen on train), the all-layer
probe, and the sentence-embedding probe. Stance pools its five targets' val predictions, as the
official metric does; ALL is the mean of the seven tasks, its interval from the same bootstrap
replicate in every task. ``--against RUNS`` adds the paired difference to another default's runs.

    bash bench/extract_tweeteval.sh FEATS                      # once: features of every task
    .venv/bin/python bench/honest_table.py --features FEATS --runs RUNS \
        --out docs/data/cpu-2026-12-07/honest_table.json --against docs/data/cpu-2026-11-30/honest

A task whose ``RUNS/<task>/report.json`` exists is not refitted (rerun to resume).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from common import STANCE, write_json

from neuronhead.evaluation.bootstrap import (
    BootstrapOptions,
    paired,
    replicate_scores,
    resample_indices,
    summarize,
)
from neuronhead.fitting.select import SelectOptions
from neuronhead.fitting.train import FitOptions, fit_head

TASKS = ["emoji", "emotion", "hate", "irony", "offensive", "sentiment", "stance"]
FULL = "head[{}]@0..5"
COLUMNS = {  # table column → key in val_predictions.json
    "shipped": "shipped",
    "head logits+values @0..5": FULL.format("logits+values"),
    "head logits @0..5 (seed)": FULL.format("logits"),
    "best-layer probe (chosen on train)": "best_layer_probe",
    "all-layer probe": "all-layer probe",
    "embedding probe": "embed_mean",
}


def fit_all(features: Path, runs: Path, select_on: str, tasks: list[str]) -> None:
    for t in tasks:
        out = runs / t
        if (out / "report.json").exists():
            continue
        t0 = time.perf_counter()
        fit_head(
            features / t / "train",
            out,
            val_features=features / t / "val",
            options=FitOptions(baselines=True, select=SelectOptions(select_on=select_on), progress=False),
        )
        print(f"{t}: fitted in {time.perf_counter() - t0:.0f} s", flush=True)


def load_task(runs: Path, t: str) -> dict:
    r = json.loads((runs / t / "report.json").read_text())
    p = {k: np.asarray(v) for k, v in json.loads((runs / t / "val_predictions.json").read_text()).items()}
    best_probe = [k for k in r["comparators"] if k.startswith("probe@")]
    if best_probe:
        p["best_layer_probe"] = p[best_probe[0]]
    return {"report": r, "preds": p, "best_probe": best_probe[0] if best_probe else None}


def pooled(runs: Path, task: str) -> tuple[np.ndarray, dict[str, np.ndarray], list[dict]]:
    """Labels and every column's val predictions of a task; stance concatenates its five targets."""
    parts = [load_task(runs, t) for t in (STANCE if task == "stance" else [task])]
    y = np.concatenate([p["preds"]["label"] for p in parts])
    preds = {
        c: np.concatenate([p["preds"][k] for p in parts])
        for c, k in COLUMNS.items()
        if all(k in p["preds"] for p in parts)  # prefer robust ships no "best layer chosen on train"
    }
    return y, preds, parts


def table(runs: Path, options: BootstrapOptions) -> dict:
    out: dict = {"tasks": {}, "bootstrap": vars(options)}
    reps_by_col: dict[str, list[np.ndarray]] = {c: [] for c in COLUMNS}
    present = [
        t
        for t in TASKS
        if all((runs / x / "report.json").exists() for x in (STANCE if t == "stance" else [t]))
    ]
    for task in present:
        y, preds, parts = pooled(runs, task)
        r0 = parts[0]["report"]
        metric, names = r0["metric"], _label_names(runs, task)
        idx = resample_indices(len(y), options)
        row = {"metric": metric, "val_rows": int(len(y)), "shipped_models": [_shipped(p) for p in parts]}
        for c in preds:
            reps = replicate_scores(y, preds[c], metric, names, idx)
            reps_by_col[c].append(reps)
            row[c] = summarize(_point(y, preds[c], metric, names), reps, options.level)
        for c in ("all-layer probe", "embedding probe"):
            row[f"shipped vs {c}"] = paired(y, preds["shipped"], preds[c], metric, names, options)
        row["seconds"] = {
            "select": sum(p["report"]["seconds"]["select"] for p in parts),
            "fit": sum(p["report"]["seconds"]["fit"] for p in parts),
        }
        out["tasks"][task] = row
    out["ALL"] = {}
    if present != TASKS:
        return out
    for c in [c for c in COLUMNS if len(reps_by_col[c]) == len(TASKS)]:
        reps = np.mean(reps_by_col[c], axis=0)
        out["ALL"][c] = summarize(np.mean([out["tasks"][t][c]["score"] for t in TASKS]), reps, options.level)
    for c in ("all-layer probe", "embedding probe"):
        diff = np.mean(reps_by_col["shipped"], axis=0) - np.mean(reps_by_col[c], axis=0)
        point = out["ALL"]["shipped"]["score"] - out["ALL"][c]["score"]
        d = summarize(point, diff, options.level)
        d["verdict"] = "A" if d["lo"] > 0 else "B" if d["hi"] < 0 else "tie"
        out["ALL"][f"shipped vs {c}"] = d
    return out


def versus_runs(runs: Path, before: Path, options: BootstrapOptions) -> dict:
    """The shipped model of ``runs`` minus that of ``before`` (another default's runs on the same val
    rows), paired per task on shared resamples, and on ALL (the mean of the seven tasks' differences,
    each replicate the same resample in every task)."""
    out: dict = {"before": str(before), "tasks": {}}
    diffs, points = [], []
    for task in TASKS:
        y, now, _ = pooled(runs, task)
        y0, then, _ = pooled(before, task)
        if not np.array_equal(y, y0):
            raise ValueError(f"{task}: {before} was scored on other val rows")
        metric = json.loads((runs / (STANCE[0] if task == "stance" else task) / "report.json").read_text())[
            "metric"
        ]
        names = _label_names(runs, task)
        idx = resample_indices(len(y), options)
        d = replicate_scores(y, now["shipped"], metric, names, idx) - replicate_scores(
            y, then["shipped"], metric, names, idx
        )
        p = _point(y, now["shipped"], metric, names) - _point(y, then["shipped"], metric, names)
        out["tasks"][task] = summarize(p, d, options.level)
        diffs.append(d)
        points.append(p)
    all_ = summarize(float(np.mean(points)), np.mean(diffs, axis=0), options.level)
    all_["verdict"] = "A" if all_["lo"] > 0 else "B" if all_["hi"] < 0 else "tie"
    out["ALL"] = all_
    return out


def _label_names(runs: Path, task: str) -> list[str]:
    t = STANCE[0] if task == "stance" else task
    return json.loads((runs / t / "head.json").read_text())["label_names"]


def _point(y, pred, metric, names) -> float:
    from neuronhead.evaluation.bootstrap import point_score

    return point_score(y, pred, metric, names)


def _shipped(part: dict) -> dict:
    r = part["report"]
    h = r["head"]
    return {
        "chosen": r["selection"]["chosen"],
        "deepest_layer": h["deepest_layer"],
        "neuron_fraction_of_model": round(h["n_neurons"] / (len(r["layers"]) * 1536), 4),
        "why": r["selection"]["why"],
    }


def load_finetune(paths: list[Path]) -> dict[str, dict]:
    """bench/finetune.py's JSONs merged per task, the first file that has a task winning."""
    got: dict[str, dict] = {}
    for path in paths:
        for task, r in json.loads(path.read_text()).items():
            got.setdefault(task, r)
    return got


def finetuned(got: dict[str, dict]) -> dict[str, str]:
    """``{task: "mean ± sd (n seeds, device)"}``; tasks without a fine-tuned result are "not run"."""
    out = {}
    for task in TASKS + ["ALL"]:
        r = got.get(task)
        if not r:
            out[task] = "not run"
            continue
        src = r if "settings" in r else got.get(STANCE[0], {})  # pooled rows carry no settings
        device = src.get("settings", {}).get("device", "?")
        n = len(r.get("val_by_seed", []))
        out[task] = f"{r['val']:.2f} ± {r.get('val_sd', 0):.2f} ({n} seeds, {device})"
    return out


def scored_rows(features: Path, task: str) -> np.ndarray:
    """Which val rows (file order) the neuron heads score: a row the store keeps with an ``error``
    (hate's val holds one empty tweet) has no neurons to read and is left out of every column."""
    t = pq.read_table(features / task / "val" / "shards", columns=["row", "error"])
    keep = np.ones(t.num_rows, dtype=bool)
    keep[np.asarray(t["row"])[np.asarray(t["error"].is_valid())]] = False
    return keep


def versus_finetuned(
    features: Path, runs: Path, ft: dict[str, dict], options: BootstrapOptions
) -> dict[str, list[dict]]:
    """Per task and fine-tuning seed: the paired bootstrap of shipped − that seed's val predictions,
    on the rows both scored."""
    out: dict[str, list[dict]] = {}
    for task in TASKS:
        parts = STANCE if task == "stance" else [task]
        if not all(t in ft and (runs / t / "report.json").exists() for t in parts):
            continue
        y, preds, _ = pooled(runs, task)
        kept = {t: scored_rows(features, t) for t in parts}
        if not np.array_equal(y, np.concatenate([np.asarray(ft[t]["y"])[kept[t]] for t in parts])):
            raise ValueError(f"{task}: fine-tuning's val labels are not the fit's, row for row")
        metric = json.loads((runs / parts[0] / "report.json").read_text())["metric"]
        names = _label_names(runs, task)
        out[task] = []
        for seed in ft[parts[0]]["seeds"]:
            pred = np.concatenate([np.asarray(ft[t]["pred_by_seed"][str(seed)])[kept[t]] for t in parts])
            out[task].append({"seed": seed, **paired(y, preds["shipped"], pred, metric, names, options)})
    return out


def versus_markdown(vs: dict[str, list[dict]]) -> str:
    lines = ["| task | shipped − fine-tuned, per seed (paired bootstrap; A: shipped wins, B: it loses) |",
             "|---|---|"]  # fmt: skip
    for task, rows in vs.items():
        cells = [f"{r['score']:+.2f} [{r['lo']:+.2f}, {r['hi']:+.2f}] {r['verdict']}" for r in rows]
        lines.append(f"| {task} | " + "; ".join(cells) + " |")
    return "\n".join(lines)


def markdown(t: dict, ft: dict[str, str]) -> str:
    cols = [c for c in COLUMNS if all(c in row for row in t["tasks"].values())]
    lines = [
        "| task | metric | " + " | ".join(cols) + " | fine-tuned | shipped model |",
        "|" + "---|" * (len(cols) + 4),
    ]
    for task in t["tasks"]:
        row = t["tasks"][task]
        cells = [f"{row[c]['score']:.2f} [{row[c]['lo']:.1f}, {row[c]['hi']:.1f}]" for c in cols] + [ft[task]]
        ship = "; ".join(
            f"{s['chosen']} ({100 * s['neuron_fraction_of_model']:.1f}%)" for s in row["shipped_models"]
        )
        lines.append(f"| {task} | {row['metric']} | " + " | ".join(cells) + f" | {ship} |")
    if not t["ALL"]:
        return "\n".join(lines)
    cells = [f"{t['ALL'][c]['score']:.2f} [{t['ALL'][c]['lo']:.1f}, {t['ALL'][c]['hi']:.1f}]" for c in cols]
    lines.append("| **ALL** | mean of 7 | " + " | ".join(cells) + f" | {ft['ALL']} | |")
    return "\n".join(lines)


def costs(t: dict) -> str:
    lines = ["| task | selection s | refit of the shipped model s |", "|---|---|---|"]
    for task in t["tasks"]:
        sec = t["tasks"][task]["seconds"]
        lines.append(f"| {task} | {sec['select']:.0f} | {sec['fit']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--features", type=Path, required=True, help="FEATS of bench/extract_tweeteval.sh")
    ap.add_argument("--runs", type=Path, required=True, help="where each task's fit is written")
    ap.add_argument("--select-on", default="auto", choices=["auto", "dev", "cv"])
    ap.add_argument("--tasks", default=None, help="comma-separated task folders to fit (default: all)")
    ap.add_argument("--fit-only", action="store_true", help="fit, do not build the table")
    ap.add_argument("--out", type=Path, default=None, help="write the table's JSON here")
    ap.add_argument(
        "--against", type=Path, default=None, help="another default's RUNS: paired shipped − shipped"
    )
    ap.add_argument(
        "--finetune",
        type=Path,
        nargs="*",
        default=[],
        help="bench/finetune.py's JSONs, for its column (the first with a task wins)",
    )
    args = ap.parse_args()
    names = args.tasks.split(",") if args.tasks else [t for t in TASKS if t != "stance"] + STANCE
    fit_all(args.features, args.runs, args.select_on, names)
    if args.fit_only:
        return
    t = table(args.runs, BootstrapOptions())
    t["select_on"], t["reported_on"] = args.select_on, "val (once)"
    ft = load_finetune(args.finetune)
    t["shipped_vs_finetuned"] = versus_finetuned(args.features, args.runs, ft, BootstrapOptions())
    t["finetune_files"] = [str(p) for p in args.finetune]
    if args.against:
        t["shipped_vs_before"] = versus_runs(args.runs, args.against, BootstrapOptions())
    if args.out:
        write_json(args.out, t)
    print(markdown(t, finetuned(ft)))
    print()
    print(versus_markdown(t["shipped_vs_finetuned"]))
    print()
    print(costs(t))
    if args.against:
        vs = t["shipped_vs_before"]
        print(f"\nshipped − shipped of {args.against} (paired bootstrap, 95%):")
        for task, d in [*vs["tasks"].items(), ("ALL", vs["ALL"])]:
            print(f"  {task}: {d['score']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}]")


if __name__ == "__main__":
    main()
