"""The reference the neuron head gives up: fine-tune the whole model, scored on val the way the head is.

``AutoModelForSequenceClassification`` on the same readers and official metrics as ``neuronhead fit``
(AdamW, weight decay 0.01, linear decay after a 6% warm-up). What makes the comparison fair:

- **Class weights.** The loss is ``cross_entropy(logits, y, weight=w)`` with
  ``w = class_weights(y, n_classes, "balanced")`` from :mod:`neuronhead.heads.probes`, computed on the
  rows that model trains on, exactly as the head weights its probes (``--class-weight none`` turns
  it off).
- **Selection on dev, never on val.** The dev split is the head's own: ``selection_parts`` over the
  training file's row numbers in file order (a stable, hashed 20%). For each learning rate in
  ``--lr-grid``, seed 0 trains on train∖dev for ``--max-epochs`` epochs (the schedule spans them
  all) and dev is scored with the task's official metric after every epoch. The best (lr, epoch)
  wins; ties go to fewer epochs, then the smaller lr. The whole grid is in the output.
- **Seeds.** With that lr, every seed in ``--seeds`` trains on all the training rows for the chosen
  number of epochs (the schedule spanning exactly those) and scores val once. Each task reports the
  per-seed val scores, their mean and sample sd, and the per-seed predictions (``pred_by_seed``);
  a seed that predicts a single class on val is flagged ``majority_only``.

Each TweetEval stance target is fine-tuned on its own; the official stance score pools the five
targets' predictions of one seed, then mean ± sd over seeds. ``ALL`` (the mean of the seven task
scores) is likewise taken per seed, and only when every task is present. ``--out`` is rewritten
after every task, and a task already finished there (with the same seeds) is kept, not redone, so
an interrupted run resumes. Slow on CPU (the whole model trains, ~27 texts/s here): ``--limit``
caps the training rows for smoke tests; on a GPU (``--device cuda``) it runs in bf16 autocast.

    # smoke test (minutes)
    .venv/bin/python bench/finetune.py --data ../shared/data/tweeteval/stance_climate --limit 120 \\
        --lr-grid 8e-5 --max-epochs 2 --seeds 0,1 --out /tmp/ft_smoke.json
    # the small tasks on this CPU
    .venv/bin/python bench/finetune.py --tweeteval ../shared/data/tweeteval \\
        --tasks stance_abortion,stance_atheism,stance_climate,stance_feminist,stance_hillary,emotion,irony \\
        --out docs/data/cpu-2026-11-30/finetune_fair_cpu.json
    # every task on a GPU
    python3 bench/finetune.py --tweeteval TWEETEVAL --model MINILM --device cuda --out finetune_fair.json
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from common import STANCE, comma_list, print_result, read_json, write_json
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup
from transformers.utils import logging as hf_logging

from neuronhead.data import label_ids, plan_source, read_rows, resolve_source
from neuronhead.evaluation.metrics import classification_metrics, official_metric
from neuronhead.fitting.select import SelectOptions, selection_parts
from neuronhead.heads.probes import class_weights

TASKS = ["emoji", "emotion", "hate", "irony", "offensive", "sentiment"]
DEV_FRACTION = 0.2


@dataclass
class Split:
    """Rows of one split in file order: ``row`` is each text's row number in the file."""

    texts: list[str]
    y: np.ndarray
    row: np.ndarray
    names: list[str]

    def take(self, mask_or_index: np.ndarray) -> Split:
        idx = np.flatnonzero(mask_or_index) if mask_or_index.dtype == bool else mask_or_index
        return Split([self.texts[i] for i in idx], self.y[idx], self.row[idx], self.names)


@dataclass
class Run:
    """What every training run of one task shares."""

    model_path: str
    tok: Any
    device: torch.device
    args: argparse.Namespace
    metric: str


def read_split(data: str, split: str, limit: int | None = None) -> Split:
    """A split in file order; ``limit`` keeps a random subset of rows (still in file order)."""
    plan = plan_source(resolve_source(data, split=split))
    texts, labels = [], []
    for i, f in enumerate(plan.files):
        got = read_rows(plan, i, 0, f.n_rows)
        texts += [r.text for r in got]
        labels += label_ids(plan, got)
    out = Split(texts, np.asarray(labels, dtype=np.int64), np.arange(len(texts)), plan.label_names)
    if limit is not None and limit < len(texts):
        out = out.take(np.sort(np.random.default_rng(0).permutation(len(texts))[:limit]))
    return out


def new_model(run: Run, n_labels: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)  # the classifier's initialisation, then dropout
    return AutoModelForSequenceClassification.from_pretrained(
        run.model_path, num_labels=n_labels, dtype=torch.float32
    ).to(run.device)


def autocast(run: Run) -> torch.autocast:
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=run.device.type == "cuda")


def encode(run: Run, texts: list[str]) -> dict[str, torch.Tensor]:
    enc = run.tok(texts, truncation=True, max_length=run.args.max_length, padding=True, return_tensors="pt")
    return {k: v.to(run.device) for k, v in enc.items()}


def loss_weight(run: Run, data: Split) -> torch.Tensor | None:
    """The head's class weights, on the rows this model trains on."""
    mode = None if run.args.class_weight == "none" else run.args.class_weight
    w = class_weights(data.y, len(data.names), mode)
    return None if w is None else torch.from_numpy(w).to(run.device)


def train(
    run: Run,
    model: torch.nn.Module,
    data: Split,
    lr: float,
    epochs: int,
    seed: int,
    after_epoch: Callable[[int], None] | None = None,
) -> float:
    """Train for ``epochs`` (the schedule spans them all); seconds spent training, not in ``after_epoch``."""
    bs = run.args.batch_size
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * ((len(data.texts) + bs - 1) // bs)
    sched = get_linear_schedule_with_warmup(opt, int(0.06 * steps), steps)
    weight, rng, seconds = loss_weight(run, data), np.random.default_rng(seed), 0.0
    for epoch in range(1, epochs + 1):
        model.train()
        t0 = time.perf_counter()
        order = rng.permutation(len(data.texts))
        for i in range(0, len(order), bs):
            idx = order[i : i + bs]
            with autocast(run):
                logits = model(**encode(run, [data.texts[j] for j in idx])).logits
            target = torch.from_numpy(data.y[idx]).to(run.device)
            loss = F.cross_entropy(logits.float(), target, weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if run.device.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - t0
        if after_epoch is not None:
            after_epoch(epoch)
    return seconds


def predict(run: Run, model: torch.nn.Module, texts: list[str]) -> np.ndarray:
    model.eval()
    preds = []
    with torch.no_grad(), autocast(run):
        for i in range(0, len(texts), 256):
            preds.append(model(**encode(run, texts[i : i + 256])).logits.argmax(-1).cpu().numpy())
    return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)


def score(run: Run, data: Split, pred: np.ndarray) -> float:
    return float(classification_metrics(data.y, pred, data.names)[run.metric])


def dev_grid(run: Run, train_rows: Split) -> dict[str, Any]:
    """Seed 0 on train∖dev for every lr, dev scored after every epoch; the best (lr, epoch)."""
    dev_mask = selection_parts(train_rows.row, SelectOptions(select_on="dev", dev_fraction=DEV_FRACTION))[0]
    fit_on, dev = train_rows.take(~dev_mask), train_rows.take(dev_mask)
    if not len(dev.texts) or not len(fit_on.texts):
        n_fit, n_dev = len(fit_on.texts), len(dev.texts)
        raise ValueError(f"the dev split leaves {n_fit} rows to fit and {n_dev} to score")
    grid: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for lr in run.args.lr_grid:
        model = new_model(run, len(train_rows.names), seed=0)

        def after_epoch(epoch: int, lr: float = lr, model: torch.nn.Module = model) -> None:
            s = score(run, dev, predict(run, model, dev.texts))
            grid.append({"lr": lr, "epoch": epoch, "dev": round(s, 4)})
            print(f"  dev lr {lr:g} epoch {epoch}: {run.metric} {s:.2f}", flush=True)

        train(run, model, fit_on, lr, run.args.max_epochs, seed=0, after_epoch=after_epoch)
        del model
    best = min(grid, key=lambda g: (-g["dev"], g["epoch"], g["lr"]))
    return {
        "dev_rows": len(dev.texts),
        "dev_fit_rows": len(fit_on.texts),
        "dev_grid": grid,
        "chosen": {"lr": best["lr"], "epochs": best["epoch"], "dev": best["dev"]},
        "grid_seconds": round(time.perf_counter() - t0, 1),
    }


def seed_runs(run: Run, train_rows: Split, val: Split, lr: float, epochs: int) -> dict[str, Any]:
    """Every seed on all the training rows with the chosen lr and epochs; val scored once each."""
    per_seed, preds = [], {}
    for seed in run.args.seeds:
        model = new_model(run, len(train_rows.names), seed)
        seconds = train(run, model, train_rows, lr, epochs, seed)
        t0 = time.perf_counter()
        pred = predict(run, model, val.texts)
        score_s = time.perf_counter() - t0
        del model
        s = score(run, val, pred)
        majority = len(np.unique(pred)) <= 1
        per_seed.append({"seed": seed, "val": round(s, 2), "train_seconds": round(seconds, 1),
                         "score_texts_per_s": round(len(val.texts) / max(score_s, 1e-9), 1),
                         "majority_only": majority})  # fmt: skip
        preds[str(seed)] = pred.tolist()
        flag = " (majority only)" if majority else ""
        print(f"  seed {seed}: val {run.metric} {s:.2f}{flag}", flush=True)
    return {"per_seed": per_seed, "pred_by_seed": preds}


def mean_sd(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample sd (``None`` from a single value), rounded for the report."""
    sd = round(float(np.std(values, ddof=1)), 2) if len(values) > 1 else None
    return round(float(np.mean(values)), 2), sd


def settings(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("class_weight", "lr_grid", "max_epochs", "batch_size", "max_length", "limit", "device", "model")
    return {"dev_fraction": DEV_FRACTION, **{k: getattr(args, k) for k in keys}}


def finetune(data: str, args: argparse.Namespace) -> dict[str, Any]:
    """Choose lr and epochs on ``data``'s dev split, then fine-tune every seed and score val."""
    run = Run(args.model, AutoTokenizer.from_pretrained(args.model), torch.device(args.device), args,
              official_metric(Path(data).name))  # fmt: skip
    train_rows, val = read_split(data, "train", args.limit), read_split(data, "val")
    grid = dev_grid(run, train_rows)
    lr, epochs = grid["chosen"]["lr"], grid["chosen"]["epochs"]
    seeds = seed_runs(run, train_rows, val, lr, epochs)
    vals = [s["val"] for s in seeds["per_seed"]]
    val_mean, val_sd = mean_sd(vals)
    train_s = [s["train_seconds"] for s in seeds["per_seed"]]
    return {
        "metric": run.metric,
        "val": val_mean,
        "val_sd": val_sd,
        "val_by_seed": vals,
        "seeds": list(args.seeds),
        "majority_only_seeds": [s["seed"] for s in seeds["per_seed"] if s["majority_only"]],
        "lr": lr,
        "epochs": epochs,
        **grid,
        "train_rows": len(train_rows.texts),
        "train_seconds": round(float(np.mean(train_s)), 1),  # one seed's final training
        "train_texts_per_s": round(epochs * len(train_rows.texts) / max(float(np.mean(train_s)), 1e-9), 1),
        "settings": settings(args),
        **seeds,
        "y": val.y.tolist(),
        "label_names": val.names,
    }


def pooled(results: dict[str, Any], seeds: list[int]) -> None:
    """Add ``stance`` (five targets pooled per seed) and ``ALL`` (per seed), mean ± sd over seeds."""
    results.pop("stance", None)
    results.pop("ALL", None)
    if not all(t in results for t in STANCE):
        return
    y = np.concatenate([results[t]["y"] for t in STANCE])
    names = results[STANCE[0]]["label_names"]
    by_seed = []
    for seed in seeds:
        pred = np.concatenate([results[t]["pred_by_seed"][str(seed)] for t in STANCE])
        by_seed.append(round(classification_metrics(y, pred, names)["f1_against_favor"], 2))
    mean, sd = mean_sd(by_seed)
    results["stance"] = {
        "metric": "f1_against_favor", "val": mean, "val_sd": sd, "val_by_seed": by_seed, "seeds": seeds,
        "train_seconds": round(sum(results[t]["train_seconds"] for t in STANCE), 1),
    }  # fmt: skip
    if all(t in results for t in TASKS):
        per_seed = [
            round(float(np.mean([results[t]["val_by_seed"][k] for t in TASKS + ["stance"]])), 2)
            for k in range(len(seeds))
        ]
        mean, sd = mean_sd(per_seed)
        results["ALL"] = {"val": mean, "val_sd": sd, "val_by_seed": per_seed, "seeds": seeds}


def finished(old: dict[str, Any], task: str, seeds: list[int]) -> bool:
    r = old.get(task)
    return bool(r) and r.get("seeds") == seeds and set(r.get("pred_by_seed", {})) == {str(s) for s in seeds}


def parse_args() -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="one labelled dataset (a TweetEval task folder)")
    p.add_argument("--tweeteval", help="or: the TweetEval root, to fine-tune every task")
    p.add_argument("--tasks", default=None, help="with --tweeteval: only these tasks, e.g. emotion,irony")
    p.add_argument("--model", default=None, help="model folder (default: the bundled MiniLM)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--class-weight", choices=["balanced", "none"], default="balanced")
    p.add_argument(
        "--lr-grid",
        type=lambda s: comma_list(s, float),
        default=[3e-5, 8e-5, 2e-4],
        help="learning rates tried on dev",
    )
    p.add_argument("--max-epochs", type=int, default=4, help="epochs tried on dev (1..max)")
    p.add_argument(
        "--seeds",
        type=lambda s: comma_list(s, int),
        default=[0, 1, 2],
        help="final runs on all training rows",
    )
    p.add_argument("--limit", type=int, default=None, help="training rows (default: all; for smoke tests)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--out", default=None, help="JSON of every result, rewritten after each task; resumes")
    args = p.parse_args()
    if not args.data and not args.tweeteval:
        p.error("give --data or --tweeteval")
    if not args.lr_grid or not args.seeds or args.max_epochs < 1:
        p.error("--lr-grid and --seeds need a value each, and --max-epochs at least 1")
    if args.model is None:
        from neuronhead.models.loading import resolve_model_path

        args.model = str(resolve_model_path(None))
    order = STANCE + ["emotion", "irony", "hate", "offensive", "sentiment", "emoji"]  # small first
    if args.tasks:
        unknown = set(args.tasks.split(",")) - set(order)
        if unknown:
            p.error(f"unknown tasks {sorted(unknown)}; choose from {order}")
        order = [t for t in order if t in args.tasks.split(",")]
    return args, [args.data] if args.data else [str(Path(args.tweeteval) / t) for t in order]


def main() -> None:
    args, datasets = parse_args()
    hf_logging.set_verbosity_error()  # not the "classifier weights newly initialised" report every run
    hf_logging.disable_progress_bar()
    out = Path(args.out) if args.out else None
    old = read_json(out, {})
    results = {k: v for k, v in old.items() if k not in ("stance", "ALL") and finished(old, k, args.seeds)}
    for data in datasets:
        task = Path(data).name
        if task in results:
            print(f"{task}: kept from {out} (val {results[task]['val']})", flush=True)
            continue
        print(f"{task}:", flush=True)
        r = results[task] = finetune(data, args)
        print(
            f"{task}: val {r['metric']} {r['val']:.2f} ± {r['val_sd']} (lr {r['lr']:g}, "
            f"{r['epochs']} epochs, {r['train_rows']} rows, {r['train_seconds']:.0f} s a seed)",
            flush=True,
        )
        pooled(results, args.seeds)
        if out:  # after every task, so a run cut short keeps what it finished
            write_json(out, results)
    pooled(results, args.seeds)
    print_result(_summary(results))
    if out:
        write_json(out, results)


def _summary(results: dict[str, Any]) -> dict[str, Any]:
    drop = ("y", "pred_by_seed", "dev_grid", "settings", "label_names")
    return {k: {kk: vv for kk, vv in v.items() if kk not in drop} for k, v in results.items()}


if __name__ == "__main__":
    main()
