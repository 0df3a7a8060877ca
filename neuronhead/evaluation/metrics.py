"""Task metrics, including the official TweetEval metric of each task.

Written with numpy from the confusion matrix so that every head, baseline and tuning trial scores
the same way, with no extra dependency.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts, rows = true class, columns = predicted class."""
    return np.bincount(
        np.asarray(y_true) * n_classes + np.asarray(y_pred), minlength=n_classes * n_classes
    ).reshape(n_classes, n_classes)


def _per_class(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.nan_to_num(tp / cm.sum(axis=1))
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    return precision, recall, f1


def official_metric(task: str | None, label_names: list[str] | None = None) -> str:
    """Name of the TweetEval metric for a task folder name (``sentiment``, ``stance_hillary`` …)."""
    name = Path(task or "").name.lower()
    if name == "sentiment":
        return "macro_recall"
    if name == "irony":
        return "f1_irony"
    if name.startswith("stance"):
        return "f1_against_favor"
    return "macro_f1"


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, label_names: list[str]
) -> dict[str, float]:
    """Accuracy, macro-F1, macro-recall (in percent, like the TweetEval tables) and per-class F1."""
    return metrics_from_confusion(confusion(y_true, y_pred, len(label_names)), label_names)


def metrics_from_confusion(cm: np.ndarray, label_names: list[str]) -> dict[str, float]:
    """:func:`classification_metrics` from counts (Phase 1 accumulates them batch by batch)."""
    _, recall, f1 = _per_class(cm)
    out = {
        "accuracy": 100 * float(np.trace(cm) / max(cm.sum(), 1)),
        "macro_f1": 100 * float(f1.mean()),
        "macro_recall": 100 * float(recall.mean()),
    }
    for name, value in zip(label_names, f1, strict=True):
        out[f"f1_{name}"] = 100 * float(value)
    if {"against", "favor"} <= set(label_names):
        out["f1_against_favor"] = (out["f1_against"] + out["f1_favor"]) / 2
    return out


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.arange(len(x))
    # average ranks over ties
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, MAE, Pearson and Spearman correlation."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    err = y_pred - y_true

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        if a.std() == 0 or b.std() == 0:
            return 0.0
        return float(np.corrcoef(a, b)[0, 1])

    return {
        "mse": float(np.mean(err**2)),
        "mae": float(np.mean(np.abs(err))),
        "pearson": corr(y_true, y_pred),
        "spearman": corr(_ranks(y_true), _ranks(y_pred)),
    }


def headline(metrics: dict[str, float], name: str) -> float:
    """The one number a run is judged by (higher is better; errors are negated)."""
    value = metrics[name]
    return -value if name in ("mse", "mae") else value


def task_metrics(
    task: str, y: np.ndarray, pred: np.ndarray, label_names: list[str] | None
) -> dict[str, float]:
    """Every metric of ``task`` for predictions ``pred`` of ``y``; classes unnamed get their index."""
    if task == "regression":
        return regression_metrics(y, pred)
    return classification_metrics(
        y, pred, label_names or [str(i) for i in range(int(max(y.max(), pred.max())) + 1)]
    )
