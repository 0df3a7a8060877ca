"""How much the Phase-2 variants move across folds and seeds, on training data only (val is never read).

For each task: k folds of the training rows (the cv carving of ``neuronhead fit --select-on cv``); per
fold, Phase 1 is fitted once on the other folds, then each Phase-2 variant at full depth is fitted
with several seeds (the seed moves Phase 2's initialisation, batch order and held-out slice) and scored
on the fold. Prints and writes the mean and standard deviation over folds × seeds, and the spread across
seeds within a fold (the part of the variance that is the model's, not the data's).

    .venv/bin/python bench/variance.py --features FEATS --tasks irony,emotion --seeds 0,1,2 \\
        --out docs/data/cpu-2026-11-30/variance.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from common import comma_list, read_json, write_json

from neuronhead.evaluation.bootstrap import point_score
from neuronhead.fitting.select import SelectOptions, selection_parts
from neuronhead.fitting.train import metric_of
from neuronhead.heads.head import NeuronHead
from neuronhead.store import load_features, read_manifest

VARIANTS = {
    "logits+values (width 32)": {"variant": "logits+values"},
    "logits, the seed's (width 32)": {"variant": "logits"},
    "values, linear (width 0)": {"variant": "values", "width": 0},
}


def task_variance(folder: Path, seeds: list[int], folds: int) -> dict:
    manifest = read_manifest(folder)
    metric = metric_of(manifest, "classification")
    names = manifest.label_names
    tr = load_features(folder, dtype=np.float16)
    X, y, rows = tr["X"], tr["label"].astype(np.int64), np.asarray(tr["row"])
    base = {"probe_params": {"select": metric}}
    scores: dict[str, list[list[float]]] = {v: [] for v in VARIANTS}
    for held in selection_parts(rows, SelectOptions(select_on="cv", cv_folds=folds)):
        fit = ~held
        probes = (
            NeuronHead(**base)
            .make_probes()
            .fit(X[fit], y[fit], rows[fit], n_outputs=len(names), label_names=names)
        )
        for v, params in VARIANTS.items():
            per_seed = []
            for s in seeds:
                head = NeuronHead(**base, **params, seed=s)
                head.fit(X[fit], y[fit], rows[fit], label_names=names, probes=probes)
                per_seed.append(
                    point_score(y[held], head.predict(X[held], list(range(X.shape[1]))), metric, names)
                )
            scores[v].append(per_seed)
    out = {"metric": metric, "rows": int(len(y)), "folds": folds, "seeds": seeds}
    for v, grid in scores.items():
        a = np.asarray(grid)  # (folds, seeds)
        out[v] = {
            "mean": round(float(a.mean()), 2),
            "sd_all": round(float(a.std(ddof=1)), 2),
            "sd_seed_within_fold": round(float(a.std(axis=1, ddof=1).mean()), 2),
            "scores": np.round(a, 2).tolist(),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--features", type=Path, required=True, help="FEATS of bench/extract_tweeteval.sh")
    ap.add_argument("--tasks", required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    seeds = comma_list(args.seeds, int)
    result = read_json(args.out, {})
    for t in comma_list(args.tasks):
        if t in result:
            continue
        result[t] = task_variance(args.features / t / "train", seeds, args.folds)
        print(t, json.dumps({v: {k: result[t][v][k] for k in ("mean", "sd_all", "sd_seed_within_fold")}
                             for v in VARIANTS}), flush=True)  # fmt: skip
        if args.out:
            write_json(args.out, result)


if __name__ == "__main__":
    main()
