"""IMDb polarity (the seed result): a linear probe per single layer, and heads on layers 0..k.

Reads an extraction of ``../shared/data/imdb/train.jsonl`` (all layers of the bundled MiniLM, made with
``neuronhead extract --label-column rating`` or by the regression benchmark), labels each review by its
polarity (label 1 = rating ≥ 7, as the dataset defines it), holds out 5,000 reviews for validation (a
seeded shuffle: the file is ordered negatives first), and reports validation accuracy of

- the Phase-1 linear probe of each single layer (the paper's Figure 4), and
- the two-phase head on layers 0..k for every k (its Figure 5),

plus the effect of truncation: accuracy on reviews that fit in the max length against those cut.

    .venv/bin/neuronhead extract --data ../shared/data/imdb/train.jsonl --label-column rating --out FEATS/imdb
    .venv/bin/python bench/imdb_layers.py --features FEATS/imdb --out docs/img
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from common import write_json

from neuronhead.heads.head import NeuronHead
from neuronhead.heads.plots import plot_depth_curve, plot_layer_metric
from neuronhead.store import load_features, read_manifest


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--features", help="extraction of imdb/train.jsonl (label = rating)")
    parser.add_argument(
        "--compare",
        nargs="+",
        default=None,
        help="or: imdb_layers.json of several max lengths, to plot together",
    )
    parser.add_argument("--val", type=int, default=5000)
    parser.add_argument("--out", default="docs/img")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.compare:
        return compare(args.compare, Path(args.out))
    if not args.features:
        parser.error("give --features (or --compare)")
    manifest = read_manifest(args.features)
    t0 = time.perf_counter()
    data = load_features(args.features, dtype=np.float16)
    import pyarrow.parquet as pq

    from neuronhead.store import shard_files

    meta = pq.read_table(shard_files(Path(args.features)), columns=["row", "n_tokens", "truncated"]).sort_by(
        "row"
    )
    truncated = dict(zip(meta["row"].to_pylist(), meta["truncated"].to_pylist(), strict=True))
    y = (data["label"].astype(float) >= 7).astype(np.int64)
    order = np.random.default_rng(args.seed).permutation(len(y))
    va, tr = order[: args.val], order[args.val :]
    layers = list(manifest.layers)
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    head = NeuronHead("classification", probe_params={"select": "accuracy"}, progress=True)
    head.fit(data["X"][tr], y[tr], data["row"][tr], layers=layers, label_names=["negative", "positive"])
    fit_s = time.perf_counter() - t0
    Xv, yv = data["X"][va], y[va]
    per_layer = {
        int(layer): float((p == yv).mean() * 100)
        for layer, p in zip(layers, head.probes_.predict_layer(Xv).T, strict=True)
    }
    depth = {}
    for k in layers:
        h = NeuronHead("classification", max_layer=k).fit(
            data["X"][tr], y[tr], data["row"][tr], layers=layers, probes=head.probes_
        )
        depth[int(k)] = float((h.predict(Xv, layers) == yv).mean() * 100)
    pred = head.predict(Xv, layers)
    cut = np.array([truncated[r] for r in data["row"][va]])
    result = {
        "features": str(args.features),
        "max_length": manifest.max_length,
        "train_rows": int(len(tr)),
        "val_rows": int(len(va)),
        "head_accuracy": float((pred == yv).mean() * 100),
        "head_neurons": int(head.n_neurons_),
        "per_layer_accuracy": per_layer,
        "depth_curve_accuracy": depth,
        "truncated_share": float(cut.mean() * 100),
        "accuracy_untruncated": float((pred[~cut] == yv[~cut]).mean() * 100),
        "accuracy_truncated": float((pred[cut] == yv[cut]).mean() * 100),
        "median_tokens": float(np.median(meta["n_tokens"].to_numpy())),
        "seconds": {"load": round(load_s, 1), "fit_head_and_probes": round(fit_s, 1)},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(result, indent=1), flush=True)  # before the plots: a machine without matplotlib
    write_json(out / "imdb_layers.json", result)
    plot_layer_metric({"MiniLM-L6, IMDb val": per_layer}, "accuracy", out / "imdb-per-layer.png",
                      "IMDb polarity: linear probe on one layer")  # fmt: skip
    plot_depth_curve(depth, "accuracy", out / "imdb-depth-curve.png",
                     {"best single layer": max(per_layer.values())})  # fmt: skip


def compare(paths: list[str], out: Path) -> None:
    """One plot per figure, a line per max length: what reading more of each review adds, layer by layer."""
    runs = sorted((json.loads(Path(p).read_text()) for p in paths), key=lambda r: r["max_length"])
    per_layer = {
        f"{r['max_length']} tokens": {int(k): v for k, v in r["per_layer_accuracy"].items()} for r in runs
    }
    depth = {
        f"{r['max_length']} tokens": {int(k): v for k, v in r["depth_curve_accuracy"].items()} for r in runs
    }
    out.mkdir(parents=True, exist_ok=True)
    plot_layer_metric(per_layer, "accuracy", out / "imdb-context-per-layer.png",
                      "IMDb polarity: linear probe on one layer, by max length")  # fmt: skip
    plot_layer_metric(depth, "accuracy", out / "imdb-context-depth.png",
                      "IMDb polarity: two-phase head on layers 0..k, by max length")  # fmt: skip
    print(f"wrote {out / 'imdb-context-per-layer.png'} and {out / 'imdb-context-depth.png'}")


if __name__ == "__main__":
    main()
