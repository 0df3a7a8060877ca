"""Model selection on data the report never uses: which head (or probe) ``fit`` ships.

Every choice ``fit`` makes beyond Phase 1's own C grid (the Phase-2 variant, the depth, head vs
probe) is made here, on a split carved from the training rows:

- ``dev``: a stable 20% of the training rows (hashed row numbers) scores candidates fitted on the
  other 80%;
- ``cv``: k folds of the training rows; each candidate's out-of-fold predictions are pooled;
- ``auto`` (default): ``dev`` when it holds at least ``MIN_DEV_ROWS`` rows, else ``cv``;
- ``val``: the old way, on the validation features. The val figure is then not held out, and the
  report says so.

The winner is then refitted on every training row. Within noise, cheaper wins: every candidate whose
paired-bootstrap difference to the best lies within one bootstrap standard error counts as tied
with it, and among those the one that stops earliest (then reads the fewest neurons) is shipped.

That search runs only with ``prefer="cheaper"``. The default, ``prefer="robust"``, ships one fixed
model, the ensemble of the all-layer probe and the two-phase head (:mod:`neuronhead.heads.ensemble`):
on topics and collections the fit never saw (``bench/shift.py``) the cheapest-within-noise rule
ships shallow, lexical models that lose to it, and a split carved from train cannot see that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from neuronhead.evaluation.bootstrap import (
    BootstrapOptions,
    point_score,
    replicate_scores,
    resample_indices,
    summarize,
)
from neuronhead.fitting.storeset import StoreSet, reads_whole_layers
from neuronhead.heads.ensemble import union_neurons
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.probes import split_of

SELECT_ON = ("auto", "dev", "cv", "val")
PREFER = ("robust", "cheaper")
# Under this many dev rows one bootstrap SE spans most gaps between candidates (about 5 points of
# macro-F1 at 100 rows), so "auto" pools the out-of-fold predictions of every training row instead.
MIN_DEV_ROWS = 1000
_SALT = 104_729_000_000  # decorrelates the selection split from Phase 1's fold hash


@dataclass(frozen=True)
class SelectOptions:
    """What ``fit`` ships: ``prefer="robust"`` the ensemble, with no search; ``"cheaper"`` the
    cheapest candidate within noise of the best, compared on ``select_on``."""

    prefer: str = "robust"
    select_on: str = "auto"
    dev_fraction: float = 0.2
    cv_folds: int = 3
    variants: tuple[str, ...] = ("logits+values", "logits", "values")
    bootstrap: BootstrapOptions = field(default_factory=BootstrapOptions)

    def __post_init__(self) -> None:
        if self.prefer not in PREFER:
            raise ValueError(f"prefer must be one of {PREFER}, not {self.prefer!r}")
        if self.select_on not in SELECT_ON:
            raise ValueError(f"select_on must be one of {SELECT_ON}, not {self.select_on!r}")
        if not 0 < self.dev_fraction < 1:
            raise ValueError(f"dev_fraction must lie in (0, 1), got {self.dev_fraction}")
        if self.cv_folds < 2:
            raise ValueError(f"cv_folds must be at least 2, got {self.cv_folds}")

    def resolved(self, n_rows: int) -> SelectOptions:
        """``auto`` becomes ``dev`` when the dev split would hold ``MIN_DEV_ROWS`` rows, else ``cv``."""
        if self.select_on != "auto":
            return self
        return replace(self, select_on="dev" if n_rows * self.dev_fraction >= MIN_DEV_ROWS else "cv")


@dataclass(frozen=True)
class Candidate:
    """A model ``fit`` may ship: a name, its kind, and the :class:`NeuronHead` parameters it means."""

    name: str
    kind: str  # "head", "layer_probe" or "all_layer_probe"
    params: dict[str, Any]


DEFAULT_SELECT = SelectOptions()


def robust_choice(problem: Problem) -> dict[str, Any]:
    """The record of ``prefer="robust"``: no candidates compared; the ensemble of the parameters
    asked for ships (or, when a ``variant`` was asked for, that head itself)."""
    params = {"variant": "ensemble", **problem.base}
    name = f"{params['variant']}@0..{_depth(problem, params.get('max_layer'))}"
    return {
        "select_on": "none",
        "prefer": "robust",
        "candidates": [],
        "chosen": name,
        "chosen_params": params,
        "why": (
            "prefer robust: the mean of the all-layer probe's and the two-phase head's probabilities, "
            "the default that held up best on topics and collections the fit never saw (bench/shift.py)"
            if params["variant"] == "ensemble"
            else f"prefer robust with --variant {params['variant']}: that head, as asked"
        ),
    }


def _depth(problem: Problem, top: int | None) -> int:
    return max(problem.layers) if top is None else min(int(top), max(problem.layers))


def candidates(base: dict[str, Any], layers: Sequence[int], variants: Sequence[str]) -> list[Candidate]:
    """Heads of each variant on layers 0..k for every k, each layer's probe, and the all-layer probe."""
    out, top = [], max(layers)
    for variant in variants:
        for k in layers:
            if base.get("max_layer") is not None and k > base["max_layer"]:
                continue
            p = {**base, "variant": variant, "min_layer": None, "max_layer": k}
            if variant == "values":  # a linear head on the salient values: logistic regression
                p["width"] = 0
            out.append(Candidate(f"head[{variant}]@0..{k}", "head", p))
    whole = {"salient_fraction": 1.0, "salient_share": None}
    for k in layers:
        if base.get("max_layer") is None or k <= base["max_layer"]:
            p = {**base, **whole, "variant": "probe", "min_layer": k, "max_layer": k}
            out.append(Candidate(f"probe@L{k}", "layer_probe", p))
    deepest = top if base.get("max_layer") is None else base["max_layer"]
    p = {**base, **whole, "variant": "values", "width": 0, "min_layer": None, "max_layer": deepest}
    out.append(Candidate("all-layer probe", "all_layer_probe", p))
    return out


def selection_parts(rows: np.ndarray, options: SelectOptions) -> list[np.ndarray]:
    """Boolean masks of the rows each part scores on (the rest of the training rows fit)."""
    if options.select_on == "dev":
        return [split_of(rows + _SALT, 1000) < round(options.dev_fraction * 1000)]
    fold = split_of(rows + _SALT, options.cv_folds)
    return [fold == k for k in range(options.cv_folds)]


@dataclass(frozen=True)
class Problem:
    """What every candidate is fitted for: the task, its headline metric, the features' layers and
    labels, and the head parameters the candidates start from."""

    task: str
    metric: str
    layers: Sequence[int]
    label_names: Sequence[str] | None
    base: dict[str, Any]


def select_model(
    data: StoreSet,
    problem: Problem,
    options: SelectOptions,
    val: StoreSet | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score every candidate on the selection split; returns the table, the choice and why.

    ``val`` (a labelled feature folder) is read only when ``options.select_on == "val"``.
    """
    options = options.resolved(len(data))
    cands = candidates(problem.base, problem.layers, options.variants)
    if options.select_on == "val":
        if val is None:
            raise ValueError("select_on='val' needs validation features")
        preds, costs = _fit_and_predict(data, None, (val, None), problem, cands, progress)
        y_sel = val.y
    else:
        got, y_parts = [], []
        for held in selection_parts(data.rows, options):
            got.append(_fit_and_predict(data, ~held, (data, held), problem, cands, progress))
            y_parts.append(data.y[held])
        preds = {c.name: np.concatenate([g[0][c.name] for g in got]) for c in cands}
        costs = {c.name: _mean_cost([g[1][c.name] for g in got]) for c in cands}
        y_sel = np.concatenate(y_parts)
    return _choose(cands, preds, costs, y_sel, problem, options)


def _mean_cost(per_part: list[tuple[int, float]]) -> tuple[int, float]:
    """A candidate's cost over the cv folds (``salient_share`` may keep different counts per fold)."""
    return max(d for d, _ in per_part), float(np.mean([n for _, n in per_part]))


def _fit_and_predict(data: StoreSet, fit, scored, problem: Problem, cands, progress) -> tuple[dict, dict]:
    """:func:`fit_and_decide`, each candidate's decisions turned into its predictions."""
    decisions, costs, heads = fit_and_decide(data, fit, scored, problem, cands, progress)
    return {n: heads[n].predict_from_decision(d) for n, d in decisions.items()}, costs


def fit_and_decide(
    data: StoreSet, fit, scored, problem: Problem, cands: Sequence[Candidate], progress: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, float]], dict[str, NeuronHead]]:
    """One Phase 1 on the ``fit`` rows, every candidate's Phase 2 on it: the raw outputs for the
    ``scored`` (set, mask) rows, each fitted candidate's cost (deepest layer, neuron share), and the
    fitted heads.

    The heads' salient neurons are gathered once, for both row sets; layer probes and the all-layer
    probe read whole layers chunk by chunk."""
    names, layers = problem.label_names, problem.layers
    probes = data.fit_probes(NeuronHead(problem.task, **problem.base).make_probes(), fit, names)
    heads = {c.name: NeuronHead(problem.task, **c.params) for c in cands}
    union = union_neurons(
        h.planned_neurons(probes, layers) for h in heads.values() if not reads_whole_layers(h)
    )
    eval_set, eval_rows = scored
    g_fit, g_eval = data.gather(union, fit), eval_set.gather(union, eval_rows)
    decisions, costs = {}, {}
    for c in tqdm(cands, desc="selection candidates", unit="model", disable=not progress):
        head = data.fit_head(heads[c.name], probes, fit, names, gathered=g_fit)
        decisions[c.name] = eval_set.decision(head, eval_rows, gathered=g_eval)
        costs[c.name] = (head.deepest_layer_, head.n_neurons_ / (len(layers) * head.ffn_width_))
    return decisions, costs, heads


def _choose(cands, preds, costs, y, problem: Problem, options: SelectOptions) -> dict[str, Any]:
    """Intervals and paired gaps from one set of resamples shared by every candidate; among the
    candidates tied with the best, the cheapest by ``costs`` (deepest layer, then neuron share)."""
    metric = problem.metric
    names = list(problem.label_names) if problem.label_names else None
    idx = resample_indices(len(y), options.bootstrap)
    reps = {c.name: replicate_scores(y, preds[c.name], metric, names, idx) for c in cands}
    point = {c.name: point_score(y, preds[c.name], metric, names) for c in cands}
    table = {n: summarize(point[n], reps[n], options.bootstrap.level) for n in reps}
    best = max(table, key=lambda n: table[n]["score"])
    tied = []
    for c in cands:
        gap = summarize(point[best] - point[c.name], reps[best] - reps[c.name], options.bootstrap.level)
        table[c.name]["gap_to_best"] = gap["score"]
        table[c.name]["gap_se"] = gap["se"]
        if c.name == best or gap["score"] <= gap["se"]:
            tied.append(c)
    chosen = min(tied, key=lambda c: (costs[c.name][0], round(costs[c.name][1], 6)))
    return {
        "select_on": options.select_on,
        "rows": int(len(y)),
        "metric": metric,
        "noise": "one standard error of the paired bootstrap difference to the best candidate",
        "candidates": [
            {"name": c.name, "kind": c.kind, **_cost_fields(costs[c.name]), **table[c.name]} for c in cands
        ],
        "best": best,
        "tied_with_best": [c.name for c in tied],
        "chosen": chosen.name,
        "chosen_params": chosen.params,
        "why": _why(chosen.name, best, table),
    }


def _why(chosen: str, best: str, table: dict[str, dict[str, float]]) -> str:
    if chosen == best:
        return (
            f"{best} scores best on the selection rows ({table[best]['score']:.2f}) and no cheaper "
            "candidate is within one SE of it"
        )
    return (
        f"{chosen} scores {table[chosen]['score']:.2f} on the selection rows against "
        f"{table[best]['score']:.2f} for the best ({best}); within one SE of it, it stops earliest "
        "and reads the fewest neurons"
    )


def _cost_fields(cost: tuple[int, float]) -> dict[str, Any]:
    return {"deepest_layer": int(cost[0]), "neuron_share": round(float(cost[1]), 6)}
