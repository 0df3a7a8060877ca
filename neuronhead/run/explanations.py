"""The run's ``explain`` stage: a few validation texts per class, explained, for the report.

Per class it takes the first validation rows of that class (in the split's order, so a rerun shows
the same texts): one the head gets right and one it gets wrong where both exist, since a reader
learns most from the pair. A regression head shows the rows with the lowest, middle and highest
target. How the shares are computed: :mod:`neuronhead.heads.explain`.
"""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from neuronhead.pipelines.predictor import Predictor
from neuronhead.store import shard_files

EXPLANATIONS = "explanations.json"
CANDIDATES = 20  # rows per class looked at for a right and a wrong prediction


def explain_examples(head: Path, val_features: Path, per_class: int, top: int = 5) -> list[dict[str, Any]]:
    """``per_class`` explained validation texts per class (regression: three), as JSON-ready dicts
    with ``row``, ``text``, ``label`` (the truth) and ``explanation``."""
    predictor = Predictor.load([f"head={head}"])
    table = pq.read_table(shard_files(val_features), columns=["row", "text", "label", "error"]).sort_by("row")
    table = table.filter(pc.is_null(table["error"]))
    rows, texts = table["row"].to_numpy(), table["text"].to_pylist()
    labels = table["label"].to_numpy(zero_copy_only=False)
    if predictor.scorer.heads["head"].task == "regression":
        order = np.argsort(labels, kind="stable")
        picked = [int(order[0]), int(order[len(order) // 2]), int(order[-1])]
        truth = [float(labels[i]) for i in picked]
    else:
        names = predictor.labels()
        picked = _right_and_wrong(predictor, texts, labels, per_class)
        truth = [names[int(labels[i])] for i in picked]
    return [
        {"row": int(rows[i]), "text": texts[i], "label": t, "explanation": predictor.explain(texts[i], top)}
        for i, t in zip(picked, truth, strict=True)
    ]


def _right_and_wrong(predictor: Predictor, texts: list[str], labels: np.ndarray, per_class: int) -> list[int]:
    """Per class, positions of up to ``per_class`` rows: right and wrong predictions in turn."""
    names = predictor.labels()
    picked: list[int] = []
    for k in range(len(names)):
        candidates = np.flatnonzero(labels == k)[:CANDIDATES]
        if not len(candidates):
            continue
        predicted = predictor.predict([texts[i] for i in candidates])
        right = [int(i) for i, p in zip(candidates, predicted, strict=True) if p == names[k]]
        wrong = [int(i) for i, p in zip(candidates, predicted, strict=True) if p != names[k]]
        turns = [x for pair in zip_longest(right, wrong) for x in pair]
        picked += [i for i in turns if i is not None][:per_class]
    return picked
