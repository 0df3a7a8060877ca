"""The report of a ``neuronhead run``: what the data was, how the head did against its baselines,
which layers and neurons carry the signal and what those neurons respond to, and what each stage cost.

It reads what the stages wrote (manifests, the head's report.json, evaluations, the search's
leaderboard, the scoring summary) and recomputes nothing but summaries of them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from neuronhead.evaluation.metrics import headline
from neuronhead.heads.artifact import load_head
from neuronhead.heads.neurons import neuron_examples
from neuronhead.manifests import ModelRecord
from neuronhead.run.config import RunConfig
from neuronhead.run.explanations import EXPLANATIONS
from neuronhead.run.report.document import Document, Figure, Section, Table, to_html, to_markdown
from neuronhead.run.report.plots import plot_label_shares, plot_lengths
from neuronhead.store import read_features_manifest, shard_files, write_atomic


@dataclass(frozen=True)
class Outcome:
    """What the run produced, as the sections read it: the default head's report (``fit``), the
    chosen head and where it is, its evaluations, the headline metric and the model."""

    out: Path
    fit: dict[str, Any]
    head: Any
    chosen: Path
    evaluations: dict[str, dict[str, Any]]
    metric: str
    model: ModelRecord
    tuned: bool


def write_report(
    out: Path,
    config: Any,
    log: dict[str, Any],
    features: dict[str, Path],
    chosen: Path,
    evaluations: dict[str, dict[str, Any]],
    scores: dict[str, Any] | None,
) -> list[Path]:
    """Build the document and write ``out/report.md`` and ``out/report.html`` (atomically)."""
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    fit = json.loads((out / "head" / "report.json").read_text())
    head, info = load_head(chosen)
    metric = fit["metric"]
    manifests = {name: read_features_manifest(f) for name, f in features.items()}
    model = manifests["train"].model
    tuned = (out / "tune" / "summary.json").exists() and chosen.parent.name == "tune"

    data = Path(config.train)
    doc = Document(
        f"neuronhead report: {data.name if data.is_dir() else data.parent.name} on {model.name}"
    )
    outcome = Outcome(out, fit, head, chosen, evaluations, metric, model, tuned)
    _summary(doc.section("Summary"), outcome)
    shares = _data(doc.section("Data"), features, manifests, plots, config)
    _results(doc.section("Results against the baselines"), outcome)
    _layers(doc.section("Layers"), fit, metric, out)
    _salient(doc.section("Salient neurons"), head, fit, out, chosen)
    _confusion(doc.section("Confusion matrix"), evaluations, head)
    _neurons(doc.section("What the salient neurons respond to"), head, features["val"], config.examples)
    if (out / EXPLANATIONS).exists():
        _explained(doc.section("Why it said that"), json.loads((out / EXPLANATIONS).read_text()))
    if tuned:
        _tuning(doc.section("Tuning"), out / "tune", metric)
    if scores is not None:
        _scored(doc.section("Scored collection"), scores, out, shares, head, plots)
    _costs(doc.section("Times and throughput"), log)
    _reproduce(doc.section("Reproduce"), config)

    md, page = out / "report.md", out / "report.html"
    write_atomic(md, lambda tmp: Path(tmp).write_text(to_markdown(doc, out)))
    write_atomic(page, lambda tmp: Path(tmp).write_text(to_html(doc)))
    return [page, md]


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _summary(sec: Section, o: Outcome) -> None:
    fit, head, metric, model, tuned = o.fit, o.head, o.metric, o.model, o.tuned
    val = o.evaluations["val"]["metrics"]
    test = o.evaluations.get("test", {}).get("metrics")
    sel = fit.get("selection")
    if tuned:
        which = "the best head of the search"
    elif sel and sel.get("prefer") == "robust":
        which = f"the shipped model, {sel['chosen']} (the default: no search)"
    elif sel:
        which = f"the shipped model, {sel['chosen']}, chosen on {sel['select_on']}"
    else:
        which = "the two-phase head"
    text = (
        f"**{which}** (`{o.chosen.relative_to(o.out)}`) scores **{metric} {_fmt(val[metric])}** on validation"
        + (f" and **{_fmt(test[metric])}** on test" if test else "")
        + f", reading {head.n_neurons_:,} of {len(head.layers_) * head.ffn_width_:,} FFN neurons "
        f"({100 * head.neuron_fraction_:.1f}%) from layers 0..{head.deepest_layer_} of `{model.name}` "
        f"({model.architecture}, {model.n_layers} layers × {model.ffn_width} neurons); scoring "
        f"stops the model after layer {head.deepest_layer_}."
    )
    sec.add(text)
    if sel and not tuned:
        sec.add(f"Why this model: {sel['why']}.")
    if not fit.get("val_is_held_out", True):
        sec.add("**The validation figures are not held out**: the model was chosen on validation data.")
    base = fit.get("baselines", {})
    refs = []
    if "all_layers_concatenated" in base:
        refs.append(("all layers concatenated", base["all_layers_concatenated"]))
    if "embed_mean" in base:
        refs.append(("the sentence embedding", base["embed_mean"]))
    if refs:
        parts = [f"{name} {_fmt(m[metric])} ({val[metric] - m[metric]:+.2f})" for name, m in refs]
        sec.add("Against the baselines on validation: " + "; ".join(parts) + ".")


def _split_stats(folder: Path) -> dict[str, Any]:
    m = read_features_manifest(folder)
    cols = ["n_tokens", "truncated", "error"] + (["label"] if m.label_kind else [])
    t = pq.read_table(shard_files(folder), columns=cols)
    ok = t.filter(pc.is_null(t["error"]))
    n_tok = ok["n_tokens"].to_numpy(zero_copy_only=False)
    labels = ok["label"].to_numpy(zero_copy_only=False) if "label" in ok.column_names else None
    return {"manifest": m, "n_tokens": n_tok, "labels": labels, "errors": t.num_rows - ok.num_rows}


def _data(sec: Section, features, manifests, plots: Path, config) -> dict[str, dict[str, float]]:
    stats = {name: _split_stats(f) for name, f in features.items()}
    rows = []
    for name, s in stats.items():
        m, n = s["manifest"], s["n_tokens"]
        src = m.source
        where = ", ".join(Path(f).name for f in src.files[:2]) + (" …" if len(src.files) > 2 else "")
        trunc = int(m.truncated or 0)
        rows.append(
            [
                name,
                f"{src.kind}: {where}",
                m.rows_in,
                len(n),
                m.bad_rows + s["errors"],
                f"{trunc} ({100 * trunc / max(1, len(n)):.1f}%)",
                float(np.mean(n)) if len(n) else None,
                int(np.median(n)) if len(n) else None,
                int(np.percentile(n, 95)) if len(n) else None,
                int(n.max()) if len(n) else None,
            ]
        )
    sec.add(
        Table(
            [
                "split",
                "source",
                "rows in",
                "featured",
                "bad or empty",
                "truncated",
                "tokens mean",
                "median",
                "p95",
                "max",
            ],
            rows,
            f"rows and token lengths (max length {config.max_length} tokens; longer texts are truncated)",
        )
    )
    names = manifests["train"].label_names
    shares: dict[str, dict[str, float]] = {}
    if names:
        header, body = ["label"], [[n] for n in names]
        for split, s in stats.items():
            counts = np.bincount(s["labels"].astype(int), minlength=len(names))
            shares[split] = {n: counts[i] / max(1, counts.sum()) for i, n in enumerate(names)}
            header.append(split)
            for i in range(len(names)):
                body[i].append(f"{counts[i]:,} ({100 * counts[i] / max(1, counts.sum()):.1f}%)")
        sec.add(Table(header, body, "labels per split"))
        png = plot_label_shares(shares, plots / "labels.png")
        sec.add(Figure(png, "label shares per split"))
    else:
        for split, s in stats.items():
            v = s["labels"].astype(float)
            sec.add(
                f"{split}: labels from {v.min():.3g} to {v.max():.3g}, mean {v.mean():.3g}, sd {v.std():.3g}."
            )
    lengths = plot_lengths(
        {k: s["n_tokens"] for k, s in stats.items()}, config.max_length, plots / "lengths.png"
    )
    sec.add(Figure(lengths, "tokens per text by split; texts past the dashed line are truncated"))
    return shares


def _results(sec: Section, o: Outcome) -> None:
    fit, metric = o.fit, o.metric
    task = fit["task"]
    cols = [metric] + (["accuracy", "macro_f1"] if task == "classification" else ["pearson", "mae"])
    cols = list(dict.fromkeys(cols))
    test_eval = o.evaluations.get("test", {}).get("metrics")
    rows = _result_rows(o, cols, test_eval)
    sec.add(
        Table(
            ["model", "features"] + cols + ([f"test {metric}"] if test_eval else []),
            rows,
            f"validation metrics (higher is better{'; mae: lower' if task == 'regression' else ''})",
        )
    )
    ci = fit.get("val_interval")
    if ci:
        sec.add(
            f"The shipped model's 95% bootstrap interval on validation: [{ci['lo']:.2f}, {ci['hi']:.2f}]."
        )
    verdicts = {"A": "the shipped model wins", "B": "it loses", "tie": "a tie"}
    paired_notes = [
        f"{name}: {m['shipped_minus_this']['score']:+.2f} [{m['shipped_minus_this']['lo']:+.2f}, "
        f"{m['shipped_minus_this']['hi']:+.2f}], {verdicts[m['shipped_minus_this']['verdict']]}"
        for name, m in fit.get("comparators", {}).items()
    ]
    if paired_notes:
        sec.add("Paired bootstrap, shipped minus each (95%): " + "; ".join(paired_notes) + ".")
    if not fit.get("baselines", {}):
        sec.add("Baselines were not fitted (run without `--no-baselines` to see them).")
        return
    _where_the_head_loses(sec, o, rows)


def _result_rows(o: Outcome, cols: list[str], test_eval: dict | None) -> list[list[Any]]:
    """One row per model: the chosen head, the selection's comparators, then the baselines."""
    fit, metric, tuned = o.fit, o.metric, o.tuned
    base = fit.get("baselines", {})
    rows: list[list[Any]] = []

    def add(name: str, m: dict | None, features: str, test: dict | None = None) -> None:
        if m:
            rows.append(
                [name, features]
                + [m.get(c) for c in cols]
                + ([test.get(metric) if test else None] if test_eval else [])
            )

    h = fit["head"]
    if tuned:
        add("tuned two-phase head (best of search)", o.evaluations["val"]["metrics"], "see Tuning", test_eval)
    sel = fit.get("selection")
    add(
        f"shipped model: {sel['chosen']}" if sel else "two-phase head",
        fit.get("val"),
        f"{h['n_neurons']:,} neurons ({100 * h['neuron_fraction']:.1f}%)",
        None if tuned else test_eval,
    )
    comp = fit.get("comparators", {})
    for name, m in comp.items():
        if name.startswith("head[") or name.startswith("probe@"):
            label = {
                "head[logits+values]": "two-phase head, logits+values (neuronhead's Phase 2)",
                "head[logits]": "two-phase head, logits (the seed's Phase 2)",
            }.get(name.split("@")[0])
            on = "the selection split" if sel and sel.get("candidates") else "train, out of fold"
            label = label or f"best single-layer probe on {on} ({name})"
            add(label, m["metrics"], f"{m['n_neurons']:,} neurons, layers 0..{m['deepest_layer']}")
    per_layer = fit.get("per_layer", {})
    if per_layer and not comp:
        best = max(per_layer, key=lambda k: headline(per_layer[k], metric))
        add(f"best single-layer probe (layer {best}, picked on val)", per_layer[best], "1 layer, all neurons")
    add("all layers concatenated (linear)", base.get("all_layers_concatenated"), "all FFN neurons")
    rn = base.get("random_neurons")
    add("random neurons, same count (control)", rn, f"{rn['n_neurons']:,} random neurons" if rn else "")
    add("sentence embedding (mean-pooled final state)", base.get("embed_mean"), "final hidden state")
    add("sentence embedding (first/last token)", base.get("embed_token"), "final hidden state")
    return rows


def _where_the_head_loses(sec: Section, o: Outcome, rows: list[list[Any]]) -> None:
    """Every baseline at or above the head on the headline metric, said plainly."""
    metric, mine = o.metric, rows[0][2]
    beaten = [
        f"{r[0]} ({_fmt(r[2])} vs {_fmt(mine)})"
        for r in rows[1 + o.tuned :]
        if r[2] is not None and headline({metric: r[2]}, metric) >= headline({metric: mine}, metric)
    ]
    if beaten:
        sec.add(
            "**Where the head does not win:** " + "; ".join(beaten) + f" on {metric}. The head reads "
            f"{100 * o.fit['head']['neuron_fraction']:.1f}% of the neurons and can stop the model early; "
            "these baselines read every feature they use. A larger `--salient-fraction` or a search "
            "(`--tune N`) may close the gap."
        )
    else:
        sec.add(f"The head scores above every baseline on {metric}.")


def _layers(sec: Section, fit, metric, out) -> None:
    plots = out / "head" / "plots"
    per_layer, depth = fit.get("per_layer", {}), fit.get("depth_curve", {})
    if (plots / "per_layer.png").exists():
        sec.add(Figure(plots / "per_layer.png", f"single-layer probes: {metric} of each layer on its own"))
    if (plots / "depth_curve.png").exists():
        sec.add(Figure(plots / "depth_curve.png", f"the head on layers 0..k: {metric} against k"))
    rows = [
        [int(k), per_layer.get(k, {}).get(metric), depth.get(k, {}).get(metric)]
        for k in sorted(per_layer, key=int)
    ]
    sec.add(Table(["layer k", f"probe on layer k ({metric})", f"head on layers 0..k ({metric})"], rows))


def _salient(sec: Section, head, fit, out, chosen) -> None:
    plot = out / "head" / "plots" / "salient_per_layer.png"
    if plot.exists():
        sec.add(Figure(plot, "salient neurons per layer (default head) and how importance is spread"))
    rows = [
        [int(layer), len(idx), head.ffn_width_, 100 * len(idx) / head.ffn_width_]
        for layer, idx in sorted(head.neurons_.items())
    ]
    sec.add(Table(["layer", "salient neurons", "of", "%"], rows, f"neurons the head reads ({chosen.name})"))
    sec.add(f"Every neuron's importance and rank: `{(out / 'head' / 'ranking.csv').relative_to(out)}`.")


def _confusion(sec: Section, evaluations, head) -> None:
    if not head.label_names_:
        sec.add("A regression head has no confusion matrix; see the metrics above.")
        return
    for name, ev in evaluations.items():
        if name == "train":
            continue
        sec.add(Figure(Path(ev["confusion_plot"]), f"{name}: true label (rows) against predicted (columns)"))
    ev = evaluations["val"]
    rows = [[n, ev["metrics"].get(f"f1_{n}"), 100 * ev["predicted_shares"][n]] for n in head.label_names_]
    sec.add(Table(["label", "val F1", "predicted share %"], rows))


def _neurons(sec: Section, head, val_features: Path, k: int) -> None:
    items = neuron_examples(head, val_features, texts=k)
    sec.add(
        "For each class, the salient neurons whose frozen Phase-1 weight pulls hardest toward it "
        "(weights on standardized inputs, centred over classes), with the validation texts whose pooled "
        "activation of that neuron is highest and lowest. Neuron ids are `L<layer>.N<index>`."
    )
    for cls in dict.fromkeys(i["class"] for i in items):
        sec.blocks.append(f"**{cls}**")
        for it in (i for i in items if i["class"] == cls):
            share = (
                f"; {100 * it['top_share']:.0f}% of its top {it['top_k']} texts are {cls} "
                f"(vs {100 * it['base_share']:.0f}% overall)"
                if "top_share" in it
                else ""
            )
            sec.add(f"`{it['id']}` ({it['pooling']}-pooled, pull {it['pull']:+.3f}){share}")
            rows = [["most", r["activation"], r["label"], r["text"]] for r in it["most"]]
            rows += [["least", r["activation"], r["label"], r["text"]] for r in it["least"]]
            sec.add(Table(["", "activation", "label", "text"], rows))


def _explained(sec: Section, examples: list[dict[str, Any]]) -> None:
    if not examples:
        return
    method = examples[0]["explanation"]["method"]
    sec.add(
        "A few validation texts per class (one the head gets right, one it gets wrong, where both exist), "
        "with the salient neurons that moved the explained output most: its share (how far the neuron "
        "moves the output from the head's output at the training mean of every neuron), its share in its "
        "own layer probe's logit (exact), its pooled mean and max, and the tokens of its highest "
        "activations; the other neurons' shares together close each table. "
        f"Shares here: {method}"
        + (
            ", which add up to the output minus the baseline up to the residual shown."
            if "integrated" in method
            else ", exact: they add up to the output minus the baseline."
        )
    )
    for ex in examples:
        e = ex["explanation"]
        said = f"{e['label']:.3g}" if isinstance(e["label"], float) else e["label"]
        truth = f"{ex['label']:.3g}" if isinstance(ex["label"], float) else ex["label"]
        sec.add(
            f"**row {ex['row']}**, labelled *{truth}*, predicted *{said}*: “{ex['text']}” — "
            f"{e['explained']} {e['output']:.2f} = {e['baseline']:.2f} at the training mean "
            f"{e['output'] - e['baseline']:+.2f} from neurons (residual {e['residual']:+.1e})"
        )
        rows = [
            [n["neuron"], n["contribution"], n["probe"], n["mean"], n["max"], _tokens(n["tokens"])]
            for n in e["neurons"]
        ]
        if "other" in e:  # a run reported before explanations carried it has none
            other = e["other"]
            rows.append([f"other {other['neurons']} neurons", other["contribution"], None, None, None, ""])
        sec.add(Table(["neuron", "share", "probe share", "mean", "max", "highest activations at"], rows))


def _tokens(tokens: list[list[Any]]) -> str:
    return ", ".join(f"{tok} ({value:.2f})" for tok, value in tokens)


def _tuning(sec: Section, folder: Path, metric: str) -> None:
    s = json.loads((folder / "summary.json").read_text())
    sec.add(
        f"{s['trials']} trials (Optuna TPE, ASHA); best trial {s['best']['trial']} scores "
        f"{_fmt(s['best'][metric])} against {_fmt(s['default_head'][metric])} for the default head "
        f"(trial 0): {s.get('margin_over_default', 0):+.2f}, measured on the split the search selected on."
    )
    with open(folder / "leaderboard.csv") as f:
        board = list(csv.reader(f))
    keep = [
        c
        for c in ("rank", "trial", metric, "deepest_layer", "n_neurons", "width", "variant", "lr")
        if c in board[0]
    ]
    idx = [board[0].index(c) for c in keep]
    sec.add(Table(keep, [[r[i] for i in idx] for r in board[1:11]], "top 10 trials (leaderboard.csv)"))
    for png in sorted((folder / "plots").glob("*.png")):
        sec.add(Figure(png, png.stem.replace("-", ": ", 1)))


def _scored(sec: Section, scores, out, shares, head, plots) -> None:
    filtered = scores.get("filtered", 0)
    by = ", ".join(f"{n:,} {what}" for what, n in (scores.get("filtered_by") or {}).items())
    sec.add(
        f"{scores['rows_in']:,} rows in, {scores['rows_out']:,} out: {scores['scored']:,} scored, "
        f"{scores['errors']:,} with an error reason"
        + (f", {filtered:,} filtered ({by})" if filtered else "")
        + f". Output: `{Path(scores['out']).name}/shards/` (Parquet)."
    )
    if not head.label_names_:
        return
    t = pq.read_table(shard_files(Path(scores["out"])), columns=["head_label"])
    counts = t["head_label"].drop_null().value_counts().to_pylist()
    total = sum(c["counts"] for c in counts) or 1
    scored = {c["values"]: c["counts"] / total for c in counts}
    rows = [[n, int(round(scored.get(n, 0) * total)), 100 * scored.get(n, 0)] for n in head.label_names_]
    sec.add(Table(["predicted label", "rows", "%"], rows))
    png = plot_label_shares({**shares, "scored (predicted)": scored}, plots / "label_shares.png")
    sec.add(Figure(png, "label shares: labelled splits against the scored collection's predictions"))


def _costs(sec: Section, log: dict[str, Any]) -> None:
    rows = []
    for name, rec in log["stages"].items():
        secs = rec.get("extract_seconds") if name.startswith("extract") else rec.get("seconds")
        rate = rec.get("texts_per_second")
        if rate is None and rec.get("rows") and secs:
            rate = rec["rows"] / secs
        rows.append([name, "reused" if rec.get("reused") else "ran", secs, rec.get("rows"), rate])
    sec.add(
        Table(
            ["stage", "this run", "seconds", "rows", "rows/s"],
            rows,
            "reused stages show the time they took when they ran; extraction times include starting Ray",
        )
    )


def _reproduce(sec: Section, config) -> None:
    defaults = RunConfig(out="", train="")
    given = {k: v for k, v in config.to_dict().items() if v != getattr(defaults, k) or k in ("train", "out")}
    args = []
    for k, v in given.items():
        if k == "head_params":
            continue
        flag = "--" + k.replace("_", "-")
        args.append(flag if v is True else f"--no-{k.replace('_', '-')}" if v is False else f"{flag} {v}")
    sec.add("The same run (a rerun reuses every finished stage; `run.json` records each one):")
    sec.add(f"`neuronhead run {' '.join(args)}`")
    if config.head_params:
        sec.add(f"Head parameters from the config file: `{json.dumps(config.head_params)}`.")
