"""Counts → shares with 95% confidence intervals (classes) and means with theirs (values).

Shares use the Wilson score interval: unlike the normal approximation it stays inside [0, 1] and is
honest for the small counts a rare label in a quiet hour gives. Means use the normal interval on the
sample standard deviation, which is fine for the counts a time bucket holds; n = 1 gets no interval.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Z95 = 1.959963984540054


def wilson(k: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the Wilson score interval for k successes out of n (n > 0)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = np.where(k == 0, 0.0, np.clip(centre - half, 0, 1))  # exact at the ends, not 1e-17 off
    return low, np.where(k == n, 1.0, np.clip(centre + half, 0, 1))


def label_shares(counts: pa.Table, label_names: dict[str, list[str]]) -> pa.Table:
    """``bucket, group, head, label, n, total, share, ci_low, ci_high`` for classification heads.

    Every label of a head appears in every (bucket, group) it was scored in, with n = 0 when no row got
    it, so a time series has no gaps where a label was merely absent.
    """
    rows: dict[str, list] = {k: [] for k in ("bucket", "group", "head", "label", "n")}
    cls = counts.filter(pc.is_valid(counts["label"]))
    keyed: dict[tuple[str, str, str], dict[str, int]] = {}
    for b, g, h, lab, n in zip(
        *(cls[c].to_pylist() for c in ("bucket", "group", "head", "label", "n")), strict=True
    ):
        keyed.setdefault((b, g, h), {})[lab] = n
    for (b, g, h), got in sorted(keyed.items()):
        for lab in label_names.get(h) or sorted(got):
            for key, value in zip(rows, (b, g, h, lab, got.get(lab, 0)), strict=True):
                rows[key].append(value)
    n = np.asarray(rows["n"], float)
    totals: dict[tuple[str, str, str], int] = {k: sum(v.values()) for k, v in keyed.items()}
    total = np.asarray(
        [totals[(b, g, h)] for b, g, h in zip(rows["bucket"], rows["group"], rows["head"], strict=True)],
        float,
    )
    low, high = wilson(n, total) if len(n) else (n, n)
    return pa.table(
        {
            **{k: pa.array(v, pa.int64() if k == "n" else pa.string()) for k, v in rows.items()},
            "total": pa.array(total.astype(np.int64)),
            "share": pa.array(n / np.where(total > 0, total, 1)),
            "ci_low": pa.array(low),
            "ci_high": pa.array(high),
        }
    )


def value_means(counts: pa.Table) -> pa.Table:
    """``bucket, group, head, n, mean, sd, ci_low, ci_high`` for regression heads."""
    reg = counts.filter(pc.is_null(counts["label"]))
    n = np.asarray(reg["n"].to_pylist(), float)
    s = np.asarray(pc.fill_null(reg["sum"], 0.0).to_pylist(), float)
    ss = np.asarray(pc.fill_null(reg["sumsq"], 0.0).to_pylist(), float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        var = np.maximum(ss - n * mean * mean, 0) / (n - 1)
        sd = np.where(n > 1, np.sqrt(var), math.nan)
        half = Z95 * sd / np.sqrt(n)
    return pa.table(
        {
            "bucket": reg["bucket"],
            "group": reg["group"],
            "head": reg["head"],
            "n": reg["n"],
            "mean": pa.array(mean),
            "sd": pa.array(sd, from_pandas=True),
            "ci_low": pa.array(mean - half, from_pandas=True),
            "ci_high": pa.array(mean + half, from_pandas=True),
        }
    )
