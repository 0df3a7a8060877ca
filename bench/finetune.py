"""The reference the neuron head gives up: fine-tune the whole model, score val the same way.

``AutoModelForSequenceClassification`` on the same readers and official metrics as ``neuronhead fit``:
AdamW, linear decay after a 6% warm-up, a few epochs. Each TweetEval stance target is fine-tuned on its
own and the official stance score pools the five targets' predictions; ``ALL`` is the mean of the seven
task scores. Slow on CPU (the whole model trains): ``--limit`` caps the training rows, and on a GPU
(``--device cuda``) it runs in bf16 autocast.

    .venv/bin/python bench/finetune.py --data ../shared/data/tweeteval/emotion --epochs 1
    python3 bench/finetune.py --tweeteval DIR --device cuda --epochs 3 --out finetune.json   # all tasks
    .venv/bin/python bench/finetune.py --tweeteval ../shared/data/tweeteval --tasks emotion,irony --epochs 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

from neuronhead.data import label_ids, plan_source, read_rows, resolve_source
from neuronhead.heads.metrics import classification_metrics, official_metric

TASKS = ["emoji", "emotion", "hate", "irony", "offensive", "sentiment"]
STANCE = ["stance_abortion", "stance_atheism", "stance_climate", "stance_feminist", "stance_hillary"]


def rows(data: str, split: str, limit: int | None) -> tuple[list[str], np.ndarray, list[str]]:
    plan = plan_source(resolve_source(data, split=split))
    texts, labels = [], []
    for i, f in enumerate(plan.files):
        got = read_rows(plan, i, 0, f.n_rows)
        texts += [r.text for r in got]
        labels += label_ids(plan, got)
    y = np.asarray(labels, dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(texts))[:limit]
    return [texts[i] for i in order], y[order], plan.label_names


def finetune(data: str, model_path: str, args: argparse.Namespace) -> dict:
    """Fine-tune on ``data``'s train split; predictions and metrics on its val split."""
    torch.manual_seed(0)
    device = torch.device(args.device)
    x_tr, y_tr, names = rows(data, "train", args.limit)
    x_va, y_va, _ = rows(data, "val", None)
    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_path, num_labels=len(names), dtype=torch.float32
    ).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * ((len(x_tr) + args.batch_size - 1) // args.batch_size)
    sched = get_linear_schedule_with_warmup(opt, int(0.06 * steps), steps)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    def encode(texts: list[str]) -> dict:
        enc = tok(texts, truncation=True, max_length=args.max_length, padding=True, return_tensors="pt")
        return {k: v.to(device) for k, v in enc.items()}

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    model.train()
    for _ in range(args.epochs):
        order = rng.permutation(len(x_tr))
        for i in range(0, len(order), args.batch_size):
            idx = order[i : i + args.batch_size]
            with autocast:
                loss = model(
                    **encode([x_tr[j] for j in idx]), labels=torch.from_numpy(y_tr[idx]).to(device)
                ).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - t0
    model.eval()
    preds = []
    t0 = time.perf_counter()
    with torch.no_grad(), autocast:
        for i in range(0, len(x_va), 256):
            preds.append(model(**encode(x_va[i : i + 256])).logits.argmax(-1).cpu().numpy())
    score_s = time.perf_counter() - t0
    pred = np.concatenate(preds)
    metric = official_metric(Path(data).name)
    m = classification_metrics(y_va, pred, names)
    return {
        "metric": metric,
        "val": round(m[metric], 2),
        "train_rows": len(x_tr),
        "epochs": args.epochs,
        "train_seconds": round(train_s, 1),
        "train_texts_per_s": round(args.epochs * len(x_tr) / train_s, 1),
        "score_texts_per_s": round(len(x_va) / score_s, 1),
        "y": y_va.tolist(),
        "pred": pred.tolist(),
        "label_names": names,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="one labelled dataset (a TweetEval task folder)")
    p.add_argument("--tweeteval", help="or: the TweetEval root, to fine-tune every task")
    p.add_argument("--tasks", default=None, help="with --tweeteval: only these tasks, e.g. emotion,irony")
    p.add_argument("--model", default=None, help="model folder (default: the bundled MiniLM)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--limit", type=int, default=None, help="training rows (default: all)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--out", default=None, help="write every result as JSON")
    args = p.parse_args()
    if args.model is None:
        from neuronhead.models.loading import resolve_model_path

        args.model = str(resolve_model_path(None))
    order = STANCE + ["emotion", "irony", "hate", "offensive", "sentiment", "emoji"]  # small first
    if args.tasks:
        unknown = set(args.tasks.split(",")) - set(order)
        if unknown:
            p.error(f"unknown tasks {sorted(unknown)}; choose from {order}")
        order = [t for t in order if t in args.tasks.split(",")]
    datasets = [args.data] if args.data else [str(Path(args.tweeteval) / t) for t in order]
    results = {}
    for data in datasets:
        r = finetune(data, args.model, args)
        results[Path(data).name] = r
        print(f"{Path(data).name}: val {r['metric']} {r['val']:.2f} ({r['train_rows']} rows, "
              f"{r['epochs']} epochs, {r['train_seconds']:.0f} s)", flush=True)  # fmt: skip
        if args.out:  # after every task, so a run cut short keeps what it finished
            Path(args.out).write_text(json.dumps(_summary(results), indent=1))
    if all(t in results for t in STANCE):  # the official stance score pools the five targets
        y = np.concatenate([results[t]["y"] for t in STANCE])
        pred = np.concatenate([results[t]["pred"] for t in STANCE])
        pooled = classification_metrics(y, pred, results[STANCE[0]]["label_names"])
        results["stance"] = {
            "metric": "f1_against_favor",
            "val": round(pooled["f1_against_favor"], 2),
            "train_seconds": round(sum(results[t]["train_seconds"] for t in STANCE), 1),
        }
        if all(t in results for t in TASKS):
            results["ALL"] = {
                "val": round(float(np.mean([results[t]["val"] for t in TASKS + ["stance"]])), 2)
            }
    print("RESULT " + json.dumps(_summary(results)))
    if args.out:
        Path(args.out).write_text(json.dumps(_summary(results), indent=1))


def _summary(results: dict) -> dict:
    return {k: {kk: vv for kk, vv in v.items() if kk not in ("y", "pred")} for k, v in results.items()}


if __name__ == "__main__":
    main()
