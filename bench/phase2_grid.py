"""Phase-2 settings on one shared Phase 1: class weights × salient fraction × width × variant (× seeds).

Reproduces the table "How the defaults were picked" in docs/benchmarks/heads.md. ``--score-on val`` is how
that table was made in 2026-11 (chosen and reported on val, so its figures are not held out);
``--score-on dev`` (default) fits Phase 1 and every head on 80% of train and scores the dev 20%, the
carving ``neuronhead fit --select-on dev`` uses, and never reads val.

    .venv/bin/python bench/phase2_grid.py --features FEATS/sentiment --score-on val --out phase2_grid_val.json
    # salient fractions that grow with the class count, on emoji's dev split (train only)
    .venv/bin/python bench/phase2_grid.py --features FEATS/emoji --class-weights balanced \\
        --fractions 0.05,0.1,0.2,0.33 --widths 32 --variants logits+values \\
        --out docs/data/cpu-2026-11-30/emoji_fractions_dev.json
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
from common import comma_list, write_json

from neuronhead.evaluation.bootstrap import point_score
from neuronhead.fitting.select import SelectOptions, selection_parts
from neuronhead.fitting.train import metric_of
from neuronhead.heads.head import NeuronHead
from neuronhead.store import load_features, read_manifest


def splits(features: Path, score_on: str) -> tuple[tuple, tuple, str, list[str]]:
    manifest = read_manifest(features / "train")
    metric, names = metric_of(manifest, "classification"), manifest.label_names
    tr = load_features(features / "train", dtype=np.float16)
    X, y, rows = tr["X"], tr["label"].astype(np.int64), np.asarray(tr["row"])
    if score_on == "val":
        va = load_features(features / "val", dtype=np.float16)
        return (X, y, rows), (va["X"], va["label"].astype(np.int64)), metric, names
    (dev,) = selection_parts(rows, SelectOptions(select_on="dev"))
    return (X[~dev], y[~dev], rows[~dev]), (X[dev], y[dev]), metric, names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--features", type=Path, required=True, help="a task folder of extract_tweeteval.sh")
    ap.add_argument("--score-on", default="dev", choices=["dev", "val"])
    ap.add_argument("--fractions", default="0.05,0.1")
    ap.add_argument("--widths", default="0,64")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--class-weights", default="balanced,none", help="Phase 1 is refitted for each")
    ap.add_argument("--variants", default="logits,logits+values")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    (X, y, rows), (Xs, ys), metric, names = splits(args.features, args.score_on)
    layers = list(range(X.shape[1]))
    results = []
    weights = [None if w == "none" else w for w in comma_list(args.class_weights)]
    for cw in weights:
        base = {"class_weight": cw, "probe_params": {"select": metric}}
        probes = NeuronHead(**base).make_probes().fit(X, y, rows, n_outputs=len(names), label_names=names)
        grid = itertools.product(
            comma_list(args.fractions, float),
            comma_list(args.widths, int),
            comma_list(args.variants),
            comma_list(args.seeds, int),
        )
        for frac, width, variant, seed in grid:
            head = NeuronHead(**base, salient_fraction=frac, width=width, variant=variant, seed=seed)
            head.fit(X, y, rows, layers=layers, label_names=names, probes=probes)
            score = point_score(ys, head.predict(Xs, layers), metric, names)
            row = {"class_weight": cw, "fraction": frac, "width": width, "variant": variant, "seed": seed}
            results.append(row | {metric: round(score, 2)})
            print(json.dumps(results[-1]), flush=True)
    if args.out:
        write_json(args.out, {"score_on": args.score_on, "results": results})


if __name__ == "__main__":
    main()
