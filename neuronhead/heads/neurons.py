"""What the salient neurons respond to: per class, the neurons that push hardest toward it, and the
validation texts that activate each of them most and least.

A neuron's pull toward a class is its frozen Phase-1 weight for that class (on standardized inputs,
mean- and max-pooled edges summed) minus its average weight over the classes, since a softmax probe
only cares about differences between classes. For a regression head the two "classes" are the
directions: neurons that raise the prediction and neurons that lower it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from neuronhead.heads.head import NeuronHead
from neuronhead.store import shard_files

POOLS = ("mean", "max")


def class_pull(head: NeuronHead) -> list[tuple[str, int, int, int, float]]:
    """``(class, layer, neuron, pooling index, pull)`` for every salient neuron and class."""
    out = []
    head = head.salient_head  # an ensemble's all-layer member reads every neuron: show the chosen ones
    names = head.label_names_ or [str(i) for i in range(head.n_outputs_)]
    for layer in head.layers_:
        idx = head.neurons_[layer]
        w = np.asarray(head.probe_weight_[layer]).reshape(head.n_outputs_, 2, len(idx))
        if head.task == "regression":
            targets = [("higher", w[0]), ("lower", -w[0])]
        else:
            centred = w - w.mean(0, keepdims=True)
            targets = list(zip(names, centred, strict=True))
        for name, wc in targets:
            total = wc.sum(0)
            pool = np.abs(wc).argmax(0)
            for j, neuron in enumerate(idx):
                out.append((name, int(layer), int(neuron), int(pool[j]), float(total[j])))
    return out


def neuron_examples(
    head: NeuronHead,
    val_features: str | os.PathLike,
    *,
    per_class: int = 3,
    texts: int = 5,
) -> list[dict[str, Any]]:
    """For each class, its ``per_class`` strongest neurons with the ``texts`` validation texts that
    activate them most and least (raw pooled activation), and how often the top texts carry the class.
    """
    pulls = class_pull(head)
    classes = list(dict.fromkeys(p[0] for p in pulls))
    chosen = []
    for name in classes:
        mine = sorted((p for p in pulls if p[0] == name), key=lambda p: -p[4])[:per_class]
        chosen += mine
    columns = sorted({f"layer_{layer}_{POOLS[pool]}" for _, layer, _, pool, _ in chosen})
    table = pq.read_table(shard_files(val_features), columns=["row", "text", "label", "error", *columns])
    table = table.filter(pc.is_null(table["error"])).sort_by("row")
    text = table["text"].to_pylist()
    label = table["label"].to_numpy(zero_copy_only=False)
    names = head.label_names_
    cache: dict[str, np.ndarray] = {}
    out = []
    for name, layer, neuron, pool, pull in chosen:
        col = f"layer_{layer}_{POOLS[pool]}"
        if col not in cache:
            flat = table[col].combine_chunks().flatten().to_numpy(zero_copy_only=False)
            cache[col] = flat.reshape(table.num_rows, -1)
        act = cache[col][:, neuron].astype(np.float32)
        order = np.argsort(-act, kind="stable")
        top, bottom = order[:texts], order[::-1][:texts]

        def rows(sel: np.ndarray, act: np.ndarray = act) -> list[dict[str, Any]]:
            return [
                {
                    "text": text[i],
                    "activation": round(float(act[i]), 4),
                    "label": names[int(label[i])] if names else float(label[i]),
                }
                for i in sel
            ]

        item = {
            "class": name,
            "layer": layer,
            "neuron": neuron,
            "id": f"L{layer}.N{neuron}",
            "pooling": POOLS[pool],
            "pull": round(pull, 4),
            "most": rows(top),
            "least": rows(bottom),
        }
        if names and name in names:  # how much more often the class tops this neuron than it occurs
            k = max(20, texts)
            c = names.index(name)
            item["top_share"] = round(float(np.mean(label[order[:k]] == c)), 3)
            item["base_share"] = round(float(np.mean(label == c)), 3)
            item["top_k"] = int(min(k, len(order)))
        out.append(item)
    return out
