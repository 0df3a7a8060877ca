"""Phase-1 per-layer probes vs a well-tuned scikit-learn logistic regression, side by side.

Same standardized features, same rows. scikit-learn fits one multinomial L-BFGS logistic regression
per layer and per C (C picked on val, which flatters it); neuronhead fits every layer and its whole
L2 grid as one batched module and picks L2 on a held-out slice of train. Prints each layer's val
metric for both and the wall time of both.

    .venv/bin/python bench/probes.py --train FEATURES --val FEATURES [--metric macro_recall]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from neuronhead.heads.metrics import classification_metrics
from neuronhead.heads.phase1 import LayerProbes
from neuronhead.heads.standardize import Standardizer
from neuronhead.store import load_features


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train", required=True)
    parser.add_argument("--val", required=True)
    parser.add_argument("--metric", default="macro_recall")
    parser.add_argument("--cs", default="1e-4,3e-4,1e-3", help="inverse L2 strengths for scikit-learn")
    parser.add_argument("--layers", default=None, help="comma list of layer positions (default: all)")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression

    tr = load_features(args.train, dtype=np.float16)
    va = load_features(args.val, dtype=np.float16)
    names = tr["manifest"]["label_names"]
    y, yv = tr["label"].astype(int), va["label"].astype(int)
    positions = [int(x) for x in args.layers.split(",")] if args.layers else list(range(tr["X"].shape[1]))
    result: dict = {"rows": len(y), "threads": torch.get_num_threads(), "layers": {}}

    t = time.perf_counter()
    probes = LayerProbes(folds=1).fit(tr["X"][:, positions], y, tr["row"], n_outputs=len(names))
    ours_s = time.perf_counter() - t
    ours = probes.predict_layer(va["X"][:, positions])

    std = Standardizer().fit(tr["X"][:, positions])
    sk_s = 0.0
    for i, pos in enumerate(positions):
        Xl = std.transform(tr["X"][:, [pos]])[:, 0].reshape(len(y), -1)
        Vl = ((va["X"][:, [pos]].astype(np.float32) - std.mean_[[i]]) / std.scale_[[i]])[:, 0].reshape(
            len(yv), -1
        )
        best = None
        for c in (float(v) for v in args.cs.split(",")):
            t = time.perf_counter()
            lr = LogisticRegression(C=c, max_iter=1000).fit(Xl, y)
            sk_s += time.perf_counter() - t
            m = classification_metrics(yv, lr.predict(Vl), names)[args.metric]
            if best is None or m > best[1]:
                best = (c, m)
        mine = classification_metrics(yv, ours[:, i], names)[args.metric]
        result["layers"][pos] = {
            "sklearn": round(best[1], 2),
            "sklearn_C": best[0],
            "neuronhead": round(mine, 2),
            "neuronhead_C": float(probes.c_[i]),
        }
        print(f"layer {pos}: sklearn {best[1]:.2f} (C={best[0]:g})  neuronhead {mine:.2f}", flush=True)
    result["seconds"] = {
        "neuronhead_all_layers": round(ours_s, 1),
        "sklearn_all_layers_and_Cs": round(sk_s, 1),
    }
    result["speedup"] = round(sk_s / ours_s, 2)
    print(
        f"time: neuronhead {ours_s:.1f} s (all layers, {len(probes.c_grid)} C values)  "
        f"sklearn {sk_s:.1f} s ({len(positions)} layers × {len(args.cs.split(','))} C) → {sk_s / ours_s:.1f}x"
    )
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
