"""The seven-task TweetEval table: the neuron head against its baselines, fine-tuning and published figures.

Reads what the other runs left behind, recomputes nothing but the pooled stance score:

- ``RUNS/<task>/report.json`` of ``neuronhead fit --baselines`` (default head and baselines; the five
  stance targets pool their val predictions, made here from the heads and their val features, into the
  official stance score), and ``RUNS/<task>-tune/`` (``neuronhead tune --out``) when a search was run;
- the JSON of ``bench/finetune.py --tweeteval`` (full fine-tuning of the same model);
- the published **test** figures of other models from ``../shared/data/tweeteval/BASELINES.md``.

    .venv/bin/python bench/tweeteval_table.py --runs runs/tasks --sentiment runs/sentiment-head \
        --finetune docs/data/h200-2026-11-26/finetune_h200.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
from common import STANCE, TWEETEVAL, read_json

from neuronhead.evaluation.metrics import classification_metrics, headline
from neuronhead.heads.artifact import load_head
from neuronhead.store import load_features, read_manifest

TASKS = ["emoji", "emotion", "hate", "irony", "offensive", "sentiment"]
BASELINES = TWEETEVAL / "BASELINES.md"
PUBLISHED = ["RoBERTa-Retrained", "BERTweet", "FastText", "SVM"]


def published() -> dict[str, dict[str, str]]:
    """``{model: {task: figure}}`` from the leaderboard table of BASELINES.md (test set)."""
    out: dict[str, dict[str, str]] = {}
    cols = ["emoji", "emotion", "hate", "irony", "offensive", "sentiment", "stance", "ALL"]
    for line in BASELINES.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 10 and re.match(r"^\d", cells[1]):
            name = cells[0].split(" / ")[0].split(" (")[0]
            out[name] = dict(zip(cols, (c.replace("⚠", "").strip() for c in cells[1:9]), strict=True))
    return out


def fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def tune_summary(folder: Path) -> dict | None:
    return read_json(folder / "summary.json")


def report(folder: Path) -> dict | None:
    return read_json(folder / "report.json")


def val_predictions(head_folder: Path, default: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A head's val predictions from the val features of the task's default run (for pooling stance)."""
    r = report(default)
    head, info = load_head(head_folder)
    val = load_features(r["val_source"], layers=r["layers"], dtype=np.float16)
    return val["label"].astype(np.int64), head.predict(val["X"], r["layers"]), info.label_names


def pooled_stance(heads: list[Path], defaults: list[Path]) -> float | None:
    if not all((f / "head.json").exists() for f in heads):
        return None
    got = [val_predictions(h, d) for h, d in zip(heads, defaults, strict=True)]
    y = np.concatenate([g[0] for g in got])
    pred = np.concatenate([g[1] for g in got])
    return classification_metrics(y, pred, got[0][2])["f1_against_favor"]


def extraction_seconds(folder: Path) -> float | None:
    """Train + val extraction seconds, from the features' manifests (as they ran, reused or not)."""
    info = json.loads((folder / "head.json").read_text())
    total = 0.0
    for path in (info.get("train_features"), report(folder).get("val_source")):
        if not path or not Path(path, "manifest.json").exists():
            return None
        total += (read_manifest(path).seconds or {}).get("extract", 0.0)
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default="runs/tasks", help="folder of per-task head folders")
    p.add_argument("--sentiment", default=None, help="sentiment head folder, if not RUNS/sentiment")
    p.add_argument("--finetune", default=None, help="JSON of bench/finetune.py --tweeteval")
    p.add_argument(
        "--finetune-cpu",
        default=None,
        help="JSON of a CPU run of bench/finetune.py: its training seconds, and the others at its rate",
    )
    args = p.parse_args()
    runs = Path(args.runs)
    folder = {t: runs / t for t in TASKS + STANCE}
    if args.sentiment:
        folder["sentiment"] = Path(args.sentiment)
    ft = json.loads(Path(args.finetune).read_text()) if args.finetune else {}
    cpu = json.loads(Path(args.finetune_cpu).read_text()) if args.finetune_cpu else {}
    measured = [v for k, v in cpu.items() if v.get("train_texts_per_s")]
    rate = (
        sum(v["epochs"] * v["train_rows"] for v in measured) / sum(v["train_seconds"] for v in measured)
        if measured
        else None
    )

    def cpu_seconds(task: str) -> str:
        """Measured on this CPU, or ``≈`` the measured rate times the rows and epochs of the GPU run."""
        if task in cpu:
            return fmt(cpu[task]["train_seconds"])
        parts = STANCE if task == "stance" else [task]
        if rate and all(ft.get(t, {}).get("train_rows") for t in parts):
            return "≈" + fmt(sum(ft[t]["epochs"] * ft[t]["train_rows"] for t in parts) / rate)
        return "–"

    pub = published()

    rows, costs = [], []
    for task in TASKS + ["stance"]:
        if task == "stance":
            metric = "f1_against_favor"
            head = pooled_stance([folder[t] for t in STANCE], [folder[t] for t in STANCE])
            tuned = pooled_stance(
                [runs / f"{t}-tune" / "best-head" for t in STANCE], [folder[t] for t in STANCE]
            )
            reps = [folder[t] for t in STANCE]
            r = None
        else:
            r = report(folder[task])
            metric = r["metric"] if r else None
            head = headline(r["val"], metric) if r else None
            t = tune_summary(runs / f"{task}-tune")
            tuned = t["best"][metric] if t else None
            reps = [folder[task]]
        b = (r or {}).get("baselines", {})
        best = max(
            b.get("per_layer_probes", {}).items(), key=lambda kv: headline(kv[1], metric), default=None
        )

        def base(name: str, b: dict = b, metric: str | None = metric, task: str = task) -> str:
            return (
                fmt(headline(b[name], metric)) if name in b else ("per target" if task == "stance" else "–")
            )

        rows.append(
            [
                task,
                metric or "–",
                fmt(tuned),
                f"**{fmt(head)}**",
                f"{fmt(headline(best[1], metric))} (L{best[0]})" if best else base("per_layer_probes"),
                base("all_layers_concatenated"),
                base("embed_mean"),
                fmt(ft.get(task, {}).get("val")),
                *(pub.get(m, {}).get(task, "–") for m in PUBLISHED),
            ]
        )
        ok = [f for f in reps if report(f)]
        ext = [extraction_seconds(f) for f in ok]
        fit = sum(report(f)["seconds"]["fit"] for f in ok) if ok else None
        tunes = [tune_summary(runs / f"{t}-tune") for t in (STANCE if task == "stance" else [task])]
        costs.append(
            [
                task,
                fmt(sum(ext)) if ok and None not in ext else "–",
                fmt(fit),
                fmt(sum(t["seconds"]["total"] for t in tunes)) if all(tunes) else "–",
                fmt(ft.get(task, {}).get("train_seconds")),
                *([cpu_seconds(task)] if cpu else []),
            ]
        )
    heads = [float(r[3].strip("*")) for r in rows if r[3].strip("*") != "–"]
    tuned_all = [float(r[2]) for r in rows if r[2] != "–"]
    fts = [ft.get(t, {}).get("val") for t in TASKS + ["stance"]]
    all_row = [
        "ALL",
        "mean of 7",
        f"{np.mean(tuned_all):.2f}" if len(tuned_all) == 7 else "–",
        f"**{np.mean(heads):.2f}**" if len(heads) == 7 else "–",
        "–",
        "–",
        "–",
        f"{np.mean(fts):.2f}" if None not in fts else "–",
        *(pub.get(m, {}).get("ALL", "–") for m in PUBLISHED),
    ]
    header = ["task", "metric", "tuned head", "default head", "best layer", "all layers", "sentence emb.",
              "fine-tuned", *(f"{m} (test)" for m in PUBLISHED)]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in [*rows, all_row]:
        print("| " + " | ".join(r) + " |")
    print()
    extra = " fine-tuning s (this CPU; ≈: at the measured rate) |" if cpu else ""
    print("| task | extraction s (train + val) | head fit s | tuning s | fine-tuning s (H200) |" + extra)
    print("|---|---|---|---|---|" + ("---|" if cpu else ""))
    for c in costs:
        print("| " + " | ".join(c) + " |")


if __name__ == "__main__":
    main()
