"""How the L2 strength of a probe moves its score under two kinds of shift, on one task.

Why: ``bench/shift.py`` found one pair (Davidson→hate) where every FFN model loses to the sentence-
embedding probe. Stronger L2 is the lever the shift issue names; this sweep asks whether a choice
made on train (topic-held-out CV) would pick it. Plain L2 logistic regression (scikit-learn, the
bench's dev dependency; class weights balanced), standardized features, for the all-layer pooled
values and the sentence embedding, at each C: the topic-held-out CV score on the task's train (the
folds of ``bench/shift.py``) and the score on the other collection when fitted on all of it.

    .venv/bin/python bench/shift_l2.py --features FEATS --out docs/data/cpu-2026-12-08/shift_l2.json
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_json  # noqa: E402
from shift import PAIRS, capped, other_labels, problem_of  # noqa: E402

from neuronhead.evaluation.bootstrap import point_score  # noqa: E402
from neuronhead.evaluation.topics import TopicOptions, topic_folds  # noqa: E402
from neuronhead.fitting.storeset import StoreSet  # noqa: E402

C_GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 1e-2)


def pooled(store: StoreSet) -> np.ndarray:
    """Every layer's pooled values of every row, ``(rows, layers × 2 × width)``."""
    g = store.gather({p: np.arange(store.width) for p in range(len(store.layers))})
    return np.concatenate([g.blocks[p][1].reshape(g.n_rows, -1) for p in sorted(g.blocks)], 1)


def _fit(C: float, X: np.ndarray, y: np.ndarray) -> LogisticRegression:
    return LogisticRegression(C=C, class_weight="balanced", max_iter=300).fit(X, y)


def sweep(X, y, X_other, y_other, folds, problem) -> list[dict]:
    """At each C: the topic-held-out CV score on train and the other collection's score."""
    mu, sd = X.mean(0), X.std(0) + 1e-6
    A, B = (X - mu) / sd, (X_other - mu) / sd
    out = []
    for C in C_GRID:
        oof = np.zeros(len(A), np.int64)
        for f in np.unique(folds):
            oof[folds == f] = _fit(C, A[folds != f], y[folds != f]).predict(A[folds == f])
        other = _fit(C, A, y).predict(B)
        cv = point_score(y, oof, problem.metric, problem.label_names)
        far = point_score(y_other, other, problem.metric, problem.label_names)
        out.append({"C": C, "topic_cv": cv, "other_collection": far})
        print(f"C {C:g}: topic CV {cv:.2f}, other collection {far:.2f}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--features", type=Path, required=True, help="FEATS of bench/extract_tweeteval.sh")
    ap.add_argument("--pair", default="davidson→hate", choices=list(PAIRS))
    ap.add_argument("--max-rows", type=int, default=6000)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    task, other, field = PAIRS[args.pair]
    tr = capped(StoreSet(args.features / task / "train"), args.max_rows)
    problem = problem_of(tr, task)
    ext = StoreSet(args.features / "shift" / other)
    y_other, keep = other_labels(args.features / "shift" / other, ext.rows, field, problem.label_names)
    _, folds = topic_folds(tr.column("embed_mean"), TopicOptions())
    result = {"machine": machine(), "pair": args.pair, "max_rows": args.max_rows, "metric": problem.metric}
    for name, X, X_other in (
        ("embedding", tr.column("embed_mean"), ext.column("embed_mean")[keep]),
        ("all-layer", pooled(tr), pooled(ext)[keep]),
    ):
        print(name, flush=True)
        result[name] = sweep(X, tr.y, X_other, y_other[keep], folds, problem)
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
