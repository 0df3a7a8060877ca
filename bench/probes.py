"""Phase-1 per-layer probes vs a well-tuned scikit-learn logistic regression, side by side.

Same standardized features, same rows, unweighted loss. scikit-learn fits one multinomial L-BFGS
logistic regression per layer and per C (C picked on val, which flatters it); neuronhead fits every
layer and its whole L2 grid as one batched module, exactly as a head's Phase 1 does (3 folds, each
layer's C picked by the metric on out-of-fold predictions). Prints each layer's val metric for both,
the wall time of both, and the reference figures of ../shared/REFERENCE.md.

    .venv/bin/python bench/probes.py --train FEATURES --val FEATURES [--metric macro_recall]
        [--sklearn-layers 0,1] [--each-c]

``--each-c`` also scores every C of the Phase-1 grid on val, from the same fit (the grid trains
together, so fixing one C needs no refit): the per-C figures of docs/benchmarks/heads.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import comma_list, machine, print_result

from neuronhead.evaluation.metrics import classification_metrics
from neuronhead.heads.phase1 import LayerProbes
from neuronhead.heads.standardize import Standardizer
from neuronhead.store import load_features

# Val macro-recall of converged logistic regressions per layer, TweetEval sentiment, all-MiniLM-L6-v2.
REFERENCE = {0: 62.0, 1: 64.8, 2: 65.5, 3: 66.6, 4: 66.4, 5: 66.6}


def every_c(probes: LayerProbes, Xv: np.ndarray, yv: np.ndarray, names, metric: str) -> dict:
    """Each layer's val ``metric`` at every C of the grid: what the metric would have chosen
    against what the held-out loss chose, without fitting Phase 1 once per C."""
    out = {}
    for c in probes.c_grid:
        pred = probes.with_c(c).predict_layer(Xv)
        out[f"{c:g}"] = [
            round(classification_metrics(yv, pred[:, i], names)[metric], 2) for i in range(pred.shape[1])
        ]
        print(f"C={c:g} on val, per layer: " + ", ".join(f"{v:.2f}" for v in out[f"{c:g}"]), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", required=True)
    parser.add_argument("--val", required=True)
    parser.add_argument("--metric", default="macro_recall")
    parser.add_argument("--cs", default="1e-4,3e-4,1e-3", help="inverse L2 strengths for scikit-learn")
    parser.add_argument("--layers", default=None, help="comma list of layer positions (default: all)")
    parser.add_argument("--sklearn-layers", default=None, help="layers scikit-learn fits (default: --layers)")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--select", default=None, help="Phase-1 C selection (default: the metric)")
    parser.add_argument("--each-c", action="store_true", help="also score every C of the grid on val")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression

    tr = load_features(args.train, dtype=np.float16)
    va = load_features(args.val, dtype=np.float16)
    names = tr["manifest"].label_names
    y, yv = tr["label"].astype(int), va["label"].astype(int)
    positions = comma_list(args.layers, int) if args.layers else list(range(tr["X"].shape[1]))
    result: dict = {"rows": len(y), "machine": machine(), "layers": {}}

    t = time.perf_counter()
    probes = LayerProbes(folds=args.folds, select=args.select or args.metric).fit(
        tr["X"][:, positions], y, tr["row"], n_outputs=len(names), label_names=names
    )
    ours_s = time.perf_counter() - t
    ours = probes.predict_layer(va["X"][:, positions])
    if args.each_c:
        result["each_c"] = every_c(probes, va["X"][:, positions], yv, names, args.metric)

    std = Standardizer().fit(tr["X"][:, positions])
    sk_s = 0.0
    sk_positions = comma_list(args.sklearn_layers, int) if args.sklearn_layers else positions
    for i, pos in enumerate(positions):
        mine = classification_metrics(yv, ours[:, i], names)[args.metric]
        ref = REFERENCE.get(pos) if args.metric == "macro_recall" else None
        result["layers"][pos] = {"neuronhead": round(mine, 2), "neuronhead_C": float(probes.c_[i])}
        result["layers"][pos]["reference"] = ref
        print(f"layer {pos}: neuronhead {mine:.2f} (C={probes.c_[i]:g})  reference {ref}", flush=True)
        if pos not in sk_positions:
            continue
        Xl = std.transform(tr["X"][:, [pos]])[:, 0].reshape(len(y), -1)
        Vl = ((va["X"][:, [pos]].astype(np.float32) - std.mean_[[i]]) / std.scale_[[i]])[:, 0].reshape(
            len(yv), -1
        )
        best = None
        for c in comma_list(args.cs, float):
            t = time.perf_counter()
            lr = LogisticRegression(C=c, max_iter=1000).fit(Xl, y)
            sk_s += time.perf_counter() - t
            m = classification_metrics(yv, lr.predict(Vl), names)[args.metric]
            if best is None or m > best[1]:
                best = (c, m)
        result["layers"][pos].update(sklearn=round(best[1], 2), sklearn_C=best[0])
        print(f"layer {pos}: sklearn {best[1]:.2f} (C={best[0]:g})  neuronhead {mine:.2f}", flush=True)
    n_cs = len(comma_list(args.cs))
    ours_unit = ours_s / (len(positions) * len(probes.c_grid))
    sk_unit = sk_s / max(len(sk_positions) * n_cs, 1)
    result["seconds"] = {"neuronhead": round(ours_s, 1), "sklearn": round(sk_s, 1)}
    result["seconds_per_layer_and_C"] = {"neuronhead": round(ours_unit, 2), "sklearn": round(sk_unit, 2)}
    result["speedup_per_layer_and_C"] = round(sk_unit / ours_unit, 1)
    print(
        f"time: neuronhead {ours_s:.1f} s "
        f"({len(positions)} layers × {len(probes.c_grid)} C × {args.folds} folds)"
        f"  sklearn {sk_s:.1f} s ({len(sk_positions)} layers × {n_cs} C); per layer and C: "
        f"{ours_unit:.2f} s vs {sk_unit:.2f} s → {sk_unit / ours_unit:.1f}x"
    )
    print_result(result)


if __name__ == "__main__":
    main()
