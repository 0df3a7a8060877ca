"""Heads under shift: topic-held-out cross-validation on every TweetEval task, and transfer to other
collections, every candidate side by side with paired bootstrap intervals (and, for reference, val).

Features are extracted once (``bash bench/extract_tweeteval.sh FEATS`` and
``bash bench/extract_shift_sets.sh FEATS``). Three kinds of rows are scored:

- **topic**: each task's training texts are clustered by their sentence embedding (k-means, 12 topics,
  :mod:`neuronhead.evaluation.topics`) and the topics dealt into 3 folds; every candidate is fitted on two
  folds and scores the third, whose topics it has never seen. Out-of-fold predictions are pooled.
- **collection**: fitted on a TweetEval task's train, scored on a labelled tweet set from another
  collection (``bench/data/shift/*``, each with its source, licence and label map).
- **val**: fitted on train, scored on the task's val split (same collection: no shift).

Training rows are capped at ``--max-rows`` (6,000, a stable hash choosing them) so that emoji,
sentiment and offensive fit on 2 cores; every model sees the same rows. Candidates, all from one
Phase 1 per fit (so one forward pass computes every member of an ensemble): the heads of each
Phase-2 variant on layers 0..k, each layer's probe, the all-layer probe (L2 strength by 3-fold CV),
the sentence-embedding probe (the same CV and class weights), ensembles averaging their members'
probabilities (the default ``fit`` ships ``mean(all-layer, head l+v)``), and the old default
(``--prefer cheaper``): the model it chose for each task on the whole of train
(``docs/data/cpu-2026-11-30/honest``), read from the same candidates. Stance pools its five targets;
ALL is the mean of the seven tasks, its interval from the same resample in every task.

    .venv/bin/python bench/shift.py --features FEATS --out docs/data/cpu-2026-12-07/shift.json \
        --front docs/img/shift_front.png

Rerun to resume: each task's or pair's raw outputs are kept under ``--work`` once computed.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import numpy as np
from common import ROOT, STANCE, machine, write_json

from neuronhead.evaluation.bootstrap import (
    BootstrapOptions,
    paired,
    point_score,
    replicate_scores,
    resample_indices,
    summarize,
)
from neuronhead.evaluation.metrics import official_metric
from neuronhead.evaluation.topics import TopicOptions, topic_folds
from neuronhead.fitting.select import Problem, candidates, fit_and_decide
from neuronhead.fitting.storeset import StoreSet
from neuronhead.heads.baselines import LinearBaseline, as_probe_input
from neuronhead.heads.probes import split_of
from neuronhead.store import read_manifest

TASKS = ["emoji", "emotion", "hate", "irony", "offensive", "sentiment", "stance"]
FOLDERS = [t for t in TASKS if t != "stance"] + STANCE
SHIPPED_BY = ROOT / "docs" / "data" / "cpu-2026-11-30" / "honest"  # what the current default chose
SETS = ROOT / "bench" / "data" / "shift"
PAIRS = {  # pair: (TweetEval task, feature folder of the other collection, label field there)
    "davidson→offensive": ("offensive", "davidson", "label"),
    "davidson→hate": ("hate", "davidson", "hate_label"),
    "airline→sentiment": ("sentiment", "airline", "label"),
    "emoevent→emotion": ("emotion", "emoevent", "label"),
}
VARIANTS = ("logits+values", "logits", "values")
NEW_DEFAULT = "ensemble: mean(all-layer, head l+v) = default"
ENSEMBLES = {  # name: members (candidate names; {top} is the deepest layer)
    "mean(layer probes)": ["probe@L{k}"],
    "mean(layer probes, all-layer)": ["probe@L{k}", "all-layer probe"],
    NEW_DEFAULT: ["all-layer probe", "head[logits+values]@0..{top}"],
    "mean(all-layer, head l+v, embedding)": [
        "all-layer probe",
        "head[logits+values]@0..{top}",
        "embedding probe",
    ],
    "mean(all-layer, embedding)": ["all-layer probe", "embedding probe"],
    "mean(every member)": [
        "probe@L{k}",
        "all-layer probe",
        "head[logits+values]@0..{top}",
        "embedding probe",
    ],
    "mean(layer probes, all-layer, head l+v)": [
        "probe@L{k}",
        "all-layer probe",
        "head[logits+values]@0..{top}",
    ],
}
REFERENCES = ("all-layer probe", "embedding probe")
OLD_DEFAULT = "old default (prefer cheaper)"


def softmax(d: np.ndarray) -> np.ndarray:
    z = np.exp(d - d.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def with_ensembles(decisions: dict[str, np.ndarray], layers: list[int]) -> dict[str, np.ndarray]:
    """Every candidate's and ensemble's class probabilities; an ensemble's are its members' mean."""
    proba = {n: softmax(d) for n, d in decisions.items()}
    for name, members in ENSEMBLES.items():
        names = [m.format(k=k, top=max(layers)) for m in members for k in (layers if "{k}" in m else [0])]
        proba[name] = np.mean([proba[m] for m in dict.fromkeys(names)], axis=0)
    return proba


def problem_of(store: StoreSet, task_folder: str) -> Problem:
    """What ``fit`` would fit on these features with its defaults (its ``_problem``)."""
    metric = official_metric(task_folder)
    base = {"probe_params": {"select": metric}, "seed": 0}
    return Problem("classification", metric, store.layers, store.manifest.label_names, base)


def capped(store: StoreSet, max_rows: int | None) -> StoreSet:
    """At most ``max_rows`` training rows, a stable hash of the row number choosing them."""
    if not max_rows or len(store) <= max_rows:
        return store
    keep = split_of(store.rows + 31_337_000_000, len(store)) < max_rows
    return store.subset(keep)


def shipped_name(task_folder: str) -> str:
    return json.loads((SHIPPED_BY / task_folder / "report.json").read_text())["selection"]["chosen"]


def embedding_decision(tr: StoreSet, fit: np.ndarray, scored: StoreSet, held, problem: Problem):
    """The sentence-embedding probe, its L2 strength chosen by the same 3-fold CV and class weights as
    the all-layer probe's, fitted on the ``fit`` rows; raw outputs for the ``held`` rows of ``scored``."""
    names = problem.label_names
    params = {"folds": 3, "class_weight": "balanced", "select": problem.metric}
    b = LinearBaseline("classification", names, params)
    b.fit(tr.column("embed_mean")[fit], tr.y[fit], tr.rows[fit], n_outputs=len(names))
    return b.probe_.decision(as_probe_input(scored.column("embed_mean")[held]))[:, 0]


def decide_all(tr: StoreSet, fit, scored: StoreSet, held: np.ndarray, problem: Problem) -> dict:
    """Every candidate and the embedding probe, fitted on the ``fit`` rows of ``tr`` (None: all),
    as raw outputs for the ``held`` rows of ``scored``."""
    cands = candidates(problem.base, problem.layers, VARIANTS)
    dec, _, _ = fit_and_decide(tr, fit, (scored, held), problem, cands)
    every = np.ones(len(tr), bool) if fit is None else fit
    dec["embedding probe"] = embedding_decision(tr, every, scored, held, problem)
    return dec


def run_topic(features: Path, folder: str, options: TopicOptions, max_rows: int | None) -> dict:
    """Out-of-fold raw outputs of every candidate, folds of whole topics."""
    tr = capped(StoreSet(features / folder / "train"), max_rows)
    problem = problem_of(tr, folder)
    clusters, folds = topic_folds(tr.column("embed_mean"), options)
    order = np.concatenate([np.flatnonzero(folds == f) for f in range(options.folds)])
    out: dict[str, list[np.ndarray]] = {}
    for f in range(options.folds):
        held = folds == f
        assert not set(clusters[held]) & set(clusters[~held]), "a topic on both sides"
        for n, d in decide_all(tr, ~held, tr, held, problem).items():
            out.setdefault(n, []).append(d)
    return {
        "y": tr.y[order],
        "decisions": {n: np.concatenate(v) for n, v in out.items()},
        "clusters": clusters[order],
        "folds": folds[order],
        "train_rows": len(tr),
    }


def run_pair(features: Path, pair: str, max_rows: int | None) -> dict:
    """Raw outputs of every candidate fitted on the TweetEval task, on the other collection's rows
    whose label maps to the task's (the label field may drop some)."""
    task, other, field = PAIRS[pair]
    tr = capped(StoreSet(features / task / "train"), max_rows)
    problem = problem_of(tr, task)
    ext = StoreSet(features / "shift" / other)
    y, keep = other_labels(features / "shift" / other, ext.rows, field, problem.label_names)
    return {"y": y[keep], "decisions": decide_all(tr, None, ext, keep, problem), "train_rows": len(tr)}


def other_labels(folder: Path, rows: np.ndarray, field: str, names: list[str]):
    """The task's class id of each featured row of another collection (its ``data.jsonl``), and which
    rows have one."""
    src = read_manifest(folder).source.files[0]
    records = [json.loads(line) for line in Path(src).read_text(encoding="utf-8").splitlines()]
    labels = [records[int(r)].get(field) for r in rows]
    keep = np.array([lab is not None for lab in labels])
    y = np.array([names.index(lab) if lab is not None else -1 for lab in labels])
    return y, keep


def cached(path: Path, compute) -> dict:
    """``compute()`` once: its arrays are kept in ``path`` (npz, no pickle) and read on a rerun."""
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            got = {k: z[k] for k in z.files}
        dec = {k[4:]: v for k, v in got.items() if k.startswith("dec:")}
        return {**{k: v for k, v in got.items() if not k.startswith("dec:")}, "decisions": dec}
    t0 = time.perf_counter()
    out = compute()
    out["seconds"] = np.array(time.perf_counter() - t0)
    flat = {k: np.asarray(v) for k, v in out.items() if k != "decisions"}
    flat |= {f"dec:{n}": d for n, d in out["decisions"].items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **flat)
    tmp.replace(path)
    return out


def score_block(y, proba: dict[str, np.ndarray], metric: str, names, options: BootstrapOptions,
                shipped: str, classes: list[int] | None = None) -> tuple[dict, dict]:  # fmt: skip
    """Every model's score with its interval and paired gaps to the references; ``classes`` restricts
    the predictions to the classes the other collection has. Returns the row and the replicates."""
    idx = resample_indices(len(y), options)
    row, reps = {}, {}
    cols = {n: p for n, p in proba.items() if n != shipped} | {OLD_DEFAULT: proba[shipped]}
    for name, p in cols.items():
        pred = _argmax(p, classes)
        reps[name] = replicate_scores(y, pred, metric, names, idx)
        row[name] = summarize(point_score(y, pred, metric, names), reps[name], options.level)
        for ref in REFERENCES:
            if name != ref:
                row[name][f"minus {ref}"] = paired(
                    y, pred, _argmax(cols[ref], classes), metric, names, options
                )
    return row, reps


def _argmax(p: np.ndarray, classes: list[int] | None) -> np.ndarray:
    if classes is None:
        return p.argmax(1)
    masked = np.full_like(p, -np.inf)
    masked[:, classes] = p[:, classes]
    return masked.argmax(1)


def task_table(kind: str, compute, work: Path, features: Path, options, tasks=TASKS) -> dict:
    """Per task (stance pooling its five targets), every model's score on the rows ``compute(folder)``
    predicts (out of topic fold, or val); ALL over the seven tasks."""
    out: dict = {"tasks": {}}
    all_reps: dict[str, list[np.ndarray]] = {}
    for task in tasks:
        parts = STANCE if task == "stance" else [task]
        got = [cached(work / kind / f"{p}.npz", lambda p=p: compute(p)) for p in parts]
        print(f"{kind}: {task} ({sum(float(g['seconds']) for g in got):.0f} s)", flush=True)
        y = np.concatenate([g["y"] for g in got])
        probas = [with_ensembles(g["decisions"], list(range(6))) for g in got]
        for p, part in zip(probas, parts, strict=True):
            p["shipped"] = p[shipped_name(part)]
        proba = {n: np.concatenate([p[n] for p in probas]) for n in probas[0]}
        metric = official_metric(parts[0])
        row, reps = score_block(y, proba, metric, _names(features, parts[0]), options, "shipped")
        row["_rows"] = int(len(y))
        row["_train_rows"] = int(sum(int(g["train_rows"]) for g in got))
        row["_seconds"] = round(sum(float(g["seconds"]) for g in got), 1)
        out["tasks"][task] = row
        for n, r in reps.items():
            all_reps.setdefault(n, []).append(r)
    out["ALL"] = _all(out["tasks"], all_reps, options)
    return out


def run_val(features: Path, folder: str, max_rows: int | None) -> dict:
    """Every candidate fitted on the task's train, scored on its val split (in-distribution)."""
    tr = capped(StoreSet(features / folder / "train"), max_rows)
    problem = problem_of(tr, folder)
    val = StoreSet(features / folder / "val")
    dec = decide_all(tr, None, val, np.ones(len(val), bool), problem)
    return {"y": val.y, "decisions": dec, "train_rows": len(tr)}


def pair_table(features: Path, work: Path, max_rows, options) -> dict:
    out: dict = {"pairs": {}}
    for pair, (task, other, _) in PAIRS.items():
        if not (features / "shift" / other / "manifest.json").exists():
            print(f"collection: {pair}: no features of {other}, skipped", flush=True)
            continue
        g = cached(work / "pairs" / f"{pair.replace('→', '-to-')}.npz",
                   lambda pair=pair: run_pair(features, pair, max_rows))  # fmt: skip
        print(f"collection: {pair} ({float(g['seconds']):.0f} s)", flush=True)
        proba = with_ensembles(g["decisions"], list(range(6)))
        proba["shipped"] = proba[shipped_name(task)]
        names = _names(features, task)
        classes = sorted(set(g["y"].tolist()))
        metric = official_metric(task)
        row, _ = score_block(g["y"], proba, metric, names, options, "shipped",
                             None if len(classes) == len(names) else classes)  # fmt: skip
        row["_rows"], row["_classes"] = int(len(g["y"])), [names[c] for c in classes]
        out["pairs"][pair] = row
    return out


def _names(features: Path, folder: str) -> list[str]:
    return read_manifest(features / folder / "train").label_names


def _all(tasks: dict, reps: dict[str, list[np.ndarray]], options: BootstrapOptions) -> dict:
    """ALL: the mean over the seven tasks, its interval from the same replicate in every task."""
    if len(tasks) != len(TASKS):
        return {}
    out = {}
    for n, r in reps.items():
        out[n] = summarize(np.mean([tasks[t][n]["score"] for t in TASKS]), np.mean(r, axis=0), options.level)
        for ref in REFERENCES:
            if n != ref:
                d = np.mean(r, axis=0) - np.mean(reps[ref], axis=0)
                g = summarize(
                    out[n]["score"] - np.mean([tasks[t][ref]["score"] for t in TASKS]), d, options.level
                )
                g["verdict"] = "A" if g["lo"] > 0 else "B" if g["hi"] < 0 else "tie"
                out[n][f"minus {ref}"] = g
    return out


SHOWN = [  # the rows docs/benchmarks/tweeteval.md shows (the JSON keeps every model)
    NEW_DEFAULT, OLD_DEFAULT, "all-layer probe", "embedding probe", "head[logits+values]@0..5",
    "head[logits]@0..5", "head[logits+values]@0..3", "head[logits+values]@0..1", "probe@L1", "probe@L5",
    "mean(layer probes, all-layer)", "mean(layer probes, all-layer, head l+v)",
    "mean(all-layer, head l+v, embedding)", "mean(every member)",
]  # fmt: skip


def markdown(rows: dict[str, dict], models: list[str]) -> str:
    lines = ["| model | " + " | ".join(rows) + " |", "|---|" + "---|" * len(rows)]
    for m in models:
        cells = []
        for r in rows.values():
            c = r.get(m)
            cells.append("" if c is None else f"{c['score']:.2f}" + _gap(c))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _gap(c: dict) -> str:
    """Paired gaps to the all-layer probe and the embedding probe: ``(+1.5 A / +4.8 A)``."""
    g = [c.get(f"minus {r}") for r in REFERENCES]
    return (
        ""
        if not any(g)
        else " (" + " / ".join("·" if x is None else f"{x['score']:+.1f} {x['verdict']}" for x in g) + ")"
    )


def front_points(rows: dict) -> list[tuple[str, str, int, float, float]]:
    """``(series, model, layers run, neuron share of the model, ALL)`` for the front: what each model
    costs to score (the model runs to its deepest layer; it reads that share of the FFN neurons)."""
    out = []
    for k in range(6):
        for variant in ("logits+values", "logits"):
            name = f"head[{variant}]@0..{k}"
            out.append((f"head {variant} @0..k", name, k + 1, 0.05 * (k + 1) / 6, rows[name]["score"]))
        out.append(("probe of layer k", f"probe@L{k}", k + 1, 1 / 6, rows[f"probe@L{k}"]["score"]))
    for name, share in (("all-layer probe", 1.0), (NEW_DEFAULT, 1.0), ("embedding probe", 0.0)):
        out.append((name, name, 6, share, rows[name]["score"]))
    return out


def plot_front(result: dict, path: Path) -> Path:
    """Score against the layers a model runs (marker area: neurons read), ALL under topic shift and on
    val side by side: where the sparse head's cost saving sits against the default's accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in ("topic", "val") if result.get(k, {}).get("ALL")]
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4.2), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        pts = front_points(result[kind]["ALL"])
        for series in dict.fromkeys(p[0] for p in pts):
            mine = [p for p in pts if p[0] == series]
            x, y = [p[2] for p in mine], [p[4] for p in mine]
            size = [30 + 300 * p[3] for p in mine]
            marker = "*" if series == NEW_DEFAULT else "o"
            ax.scatter(x, y, s=size if marker == "o" else 260, marker=marker, label=series, alpha=0.8)
            if len(mine) > 1:
                ax.plot(x, y, alpha=0.4)
        title = (
            "topics held out (3 folds of 12 k-means topics)" if kind == "topic" else "val (same collection)"
        )
        ax.set(title=f"ALL, {title}", xlabel="layers the model runs (of 6)", ylabel="ALL (mean of 7 tasks)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--features", type=Path, required=True, help="FEATS of bench/extract_tweeteval.sh")
    ap.add_argument("--work", type=Path, default=None, help="kept predictions (default: FEATS/shift-work)")
    ap.add_argument("--max-rows", type=int, default=6000, help="training rows per task at most (hashed)")
    ap.add_argument("--kinds", default="topic,collection,val", help="topic, collection, val (no shift)")
    ap.add_argument("--tasks", default=",".join(TASKS), help="topic shift: which tasks (ALL needs all 7)")
    ap.add_argument("--out", type=Path, default=None, help="write the tables' JSON here")
    ap.add_argument("--front", type=Path, default=None, help="draw the cost/accuracy front here (PNG)")
    args = ap.parse_args()
    work = args.work or args.features / "shift-work"
    options, topics = BootstrapOptions(), TopicOptions()
    result: dict = {"machine": machine(), "max_rows": args.max_rows, "topics": vars(topics),
                    "bootstrap": vars(options), "shipped_by": str(SHIPPED_BY.relative_to(ROOT))}  # fmt: skip
    kinds = args.kinds.split(",")
    if "topic" in kinds:
        tasks = [t for t in TASKS if t in args.tasks.split(",")]
        compute = partial(run_topic, args.features, options=topics, max_rows=args.max_rows)
        result["topic"] = task_table("topic", compute, work, args.features, options, tasks)
    if "val" in kinds:
        tasks = [t for t in TASKS if t in args.tasks.split(",")]
        compute = partial(run_val, args.features, max_rows=args.max_rows)
        result["val"] = task_table("val", compute, work, args.features, options, tasks)
    if "collection" in kinds:
        result["collection"] = pair_table(args.features, work, args.max_rows, options)
    if args.out:
        write_json(args.out, result)
    if args.front:
        print(f"front: {plot_front(result, args.front)}")
    for kind, key in (("topic", "tasks"), ("collection", "pairs"), ("val", "tasks")):
        if kind in result:
            rows = dict(result[kind][key])
            if key == "tasks" and result[kind]["ALL"]:
                rows["ALL"] = result[kind]["ALL"]
            print(f"\n{kind}:\n" + markdown(rows, SHOWN))


if __name__ == "__main__":
    main()
