"""Bootstrap intervals and paired comparisons for any headline metric.

Every compared figure carries a 95% percentile interval over rows resampled with replacement, and a
difference between two models on the same rows counts as a win only when the paired bootstrap's
interval of the difference excludes zero. Replicates are drawn from one seeded generator, so the same
call gives the same interval, and two models scored with the same seed share their resamples.

Classification metrics come from confusion counts, vectorised over replicates (1,000 replicates of
10,000 rows take milliseconds); regression metrics loop over replicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neuronhead.evaluation.metrics import headline, metrics_from_confusion, regression_metrics


@dataclass(frozen=True)
class BootstrapOptions:
    """How intervals are drawn: ``replicates`` resamples at ``level`` confidence, from ``seed``."""

    replicates: int = 1000
    level: float = 0.95
    seed: int = 0


def resample_indices(n: int, options: BootstrapOptions) -> np.ndarray:
    """``(replicates, n)`` row indices drawn with replacement (the same for the same seed and n)."""
    rng = np.random.default_rng(options.seed)
    return rng.integers(0, n, size=(options.replicates, n))


def _class_metric_batch(conf: np.ndarray, metric: str, label_names: Sequence[str]) -> np.ndarray:
    """``metric`` of each ``(C, C)`` confusion in ``conf`` ``(B, C, C)``, as :mod:`metrics` defines it."""
    tp = np.diagonal(conf, axis1=1, axis2=2).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.nan_to_num(tp / conf.sum(2))
        precision = np.nan_to_num(tp / conf.sum(1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    names = list(label_names)
    if metric == "accuracy":
        return 100 * tp.sum(1) / np.maximum(conf.sum((1, 2)), 1)
    if metric == "macro_f1":
        return 100 * f1.mean(1)
    if metric == "macro_recall":
        return 100 * recall.mean(1)
    if metric == "f1_against_favor" and {"against", "favor"} <= set(names):
        return 100 * (f1[:, names.index("against")] + f1[:, names.index("favor")]) / 2
    if metric.startswith("f1_") and metric[3:] in names:
        return 100 * f1[:, names.index(metric[3:])]
    raise ValueError(f"no bootstrap for classification metric {metric!r}")


def replicate_scores(
    y: np.ndarray,
    pred: np.ndarray,
    metric: str,
    label_names: Sequence[str] | None,
    idx: np.ndarray,
) -> np.ndarray:
    """The headline ``metric`` on each replicate ``idx[b]`` of the rows (higher is better)."""
    y, pred = np.asarray(y), np.asarray(pred)
    if label_names is None:  # regression
        return np.array([headline(regression_metrics(y[i], pred[i]), metric) for i in idx])
    C = len(label_names)
    code = y.astype(np.int64) * C + pred.astype(np.int64)
    B = len(idx)
    flat = (np.arange(B)[:, None] * C * C + code[idx]).ravel()
    conf = np.bincount(flat, minlength=B * C * C).reshape(B, C, C)
    return _class_metric_batch(conf, metric, label_names)


def point_score(y: np.ndarray, pred: np.ndarray, metric: str, label_names: Sequence[str] | None) -> float:
    if label_names is None:
        return headline(regression_metrics(np.asarray(y), np.asarray(pred)), metric)
    C = len(label_names)
    code = np.asarray(y, np.int64) * C + np.asarray(pred, np.int64)
    conf = np.bincount(code, minlength=C * C).reshape(C, C)
    return headline(metrics_from_confusion(conf, list(label_names)), metric)


def interval(
    y: np.ndarray,
    pred: np.ndarray,
    metric: str,
    label_names: Sequence[str] | None = None,
    options: BootstrapOptions = BootstrapOptions(),
) -> dict[str, float]:
    """``{"score", "lo", "hi", "se"}``: the figure, its percentile interval and bootstrap standard error."""
    reps = replicate_scores(y, pred, metric, label_names, resample_indices(len(y), options))
    return summarize(point_score(y, pred, metric, label_names), reps, options.level)


def summarize(score: float, reps: np.ndarray, level: float = 0.95) -> dict[str, float]:
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(reps, [tail, 100 - tail])
    return {"score": float(score), "lo": float(lo), "hi": float(hi), "se": float(np.std(reps, ddof=1))}


def paired(
    y: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    metric: str,
    label_names: Sequence[str] | None = None,
    options: BootstrapOptions = BootstrapOptions(),
) -> dict[str, float | str]:
    """A − B on the same resampled rows: the difference, its interval, and a verdict.

    ``verdict`` is ``"A"`` or ``"B"`` when the interval excludes zero on that side, else ``"tie"``.
    """
    idx = resample_indices(len(y), options)
    diff = replicate_scores(y, pred_a, metric, label_names, idx) - replicate_scores(
        y, pred_b, metric, label_names, idx
    )
    point = point_score(y, pred_a, metric, label_names) - point_score(y, pred_b, metric, label_names)
    out: dict[str, float | str] = dict(summarize(point, diff, options.level))
    out["verdict"] = "A" if out["lo"] > 0 else "B" if out["hi"] < 0 else "tie"
    return out
