"""Optional comparison: fine-tune the whole model with a classification head, score val the same way.

The upper reference for what the neuron head gives up by not fine-tuning. Uses
``AutoModelForSequenceClassification`` on the same data readers and metrics as ``neuronhead fit``.
Slow on CPU (the whole model trains); ``--limit`` caps the training rows.

    .venv/bin/python bench/finetune.py --data ../shared/data/tweeteval/sentiment [--epochs 1] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from neuronhead.data import label_ids, plan_source, read_rows, resolve_source
from neuronhead.heads.metrics import classification_metrics, official_metric
from neuronhead.models.loading import resolve_model_path


def rows(data: str, split: str, limit: int | None) -> tuple[list[str], np.ndarray, list[str]]:
    plan = plan_source(resolve_source(data, split=split))
    texts, labels = [], []
    for i, f in enumerate(plan.files):
        got = read_rows(plan, i, 0, f.n_rows)
        texts += [r.text for r in got]
        labels += label_ids(plan, got)
    names = plan.label_names
    y = np.asarray(labels, dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(texts))[:limit]
    return [texts[i] for i in order], y[order], names


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--model", default=None)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--limit", type=int, default=None, help="training rows (default: all)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--max-length", type=int, default=128)
    args = p.parse_args()
    torch.manual_seed(0)
    path = resolve_model_path(args.model)
    x_tr, y_tr, names = rows(args.data, "train", args.limit)
    x_va, y_va, _ = rows(args.data, "val", None)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=len(names), dtype=torch.float32
    )
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    t0 = time.perf_counter()
    model.train()
    for _ in range(args.epochs):
        for i in range(0, len(x_tr), args.batch_size):
            enc = tok(
                x_tr[i : i + args.batch_size],
                truncation=True,
                max_length=args.max_length,
                padding=True,
                return_tensors="pt",
            )
            loss = model(**enc, labels=torch.from_numpy(y_tr[i : i + args.batch_size])).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    train_s = time.perf_counter() - t0
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(x_va), 128):
            enc = tok(
                x_va[i : i + 128],
                truncation=True,
                max_length=args.max_length,
                padding=True,
                return_tensors="pt",
            )
            preds.append(model(**enc).logits.argmax(-1).numpy())
    m = classification_metrics(y_va, np.concatenate(preds), names)
    metric = official_metric(args.data.rstrip("/").split("/")[-1])
    print(
        f"fine-tuned: val {metric} {m[metric]:.2f} ({len(x_tr)} rows, {args.epochs} epochs, {train_s:.0f} s)"
    )
    print(
        "RESULT "
        + json.dumps({"metric": metric, "val": m, "train_rows": len(x_tr), "train_seconds": train_s})
    )


if __name__ == "__main__":
    main()
