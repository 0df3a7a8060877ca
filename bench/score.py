"""Scoring throughput, side by side on the same tweets: neuronhead vs the conventional path.

The conventional path runs the whole model and a linear classifier on the mean-pooled final hidden
state (the sentence-embedding head), batched exactly like neuronhead (length-sorted batches of the same
size, same threads). neuronhead runs the model up to the deepest layer its heads need, gathers only
their salient neurons and applies the heads, then writes the Parquet shard. Both run in this process
on tokenized shards (tokenizing is the same for both and is left out); rounds are interleaved.

Prints, per head, texts/s of both, the ratio and the ideal L/k; then 4 heads in one pass vs one pass
per head.

    .venv/bin/python bench/score.py --head sentiment=runs/sentiment-head --head k2=runs/tune/pareto/layer-2 \
        --data ../shared/data/tweeteval/sentiment --split val --n 3000 [--together a,b,c,d]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import comma_list, print_result

from neuronhead.data import Columns, plan_source, resolve_source
from neuronhead.models.loading import load_model, portable_tokenizer
from neuronhead.models.padding import pad_batch
from neuronhead.models.tokens import length_sorted_batches
from neuronhead.pipelines.headset import HeadSet
from neuronhead.pipelines.options import Capture, Compute
from neuronhead.pipelines.scoring import NO_LABEL
from neuronhead.pipelines.scoring_worker import ScorerSettings, ShardScorer
from neuronhead.pipelines.shards import plan_shards, read_shard, tokenize_shards, unpack
from neuronhead.store import SHARDS


class Conventional:
    """Full-depth forward + mean-pooled final hidden state + a linear classifier (random weights)."""

    def __init__(self, model_path: str, n_classes: int = 3) -> None:
        self.loaded = load_model(model_path)
        hidden = self.loaded.model.get_input_embeddings().embedding_dim
        self.linear = torch.nn.Linear(hidden, n_classes)
        self.pad = int(self.loaded.tokenizer.pad_token_id)

    @torch.inference_mode()
    def __call__(self, shard: dict, batch_size: int) -> np.ndarray:
        ids_all, special = shard["input_ids"], shard["special"]
        out = np.empty((len(ids_all), self.linear.out_features), np.float32)
        for batch in length_sorted_batches([len(x) for x in ids_all], batch_size, None):
            ids, att, _ = pad_batch([ids_all[i] for i in batch], [special[i] for i in batch], self.pad)
            hidden = self.loaded.model(input_ids=ids, attention_mask=att).last_hidden_state
            m = att.unsqueeze(-1).to(hidden.dtype)
            emb = (hidden * m).sum(1) / m.sum(1)
            out[np.asarray(batch)] = torch.softmax(self.linear(emb), 1).numpy()
        return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--head", action="append", required=True, help="NAME=FOLDER, repeatable")
    parser.add_argument("--data", default="../shared/data/tweeteval/sentiment")
    parser.add_argument("--split", default="val")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--together", default=None, help="comma list of head names scored in one pass")
    args = parser.parse_args()

    heads = HeadSet.load(args.head)
    blobs = {b.name: b for b in heads.blobs}
    model_path, extraction = heads.model_path, heads.extraction
    plan = plan_source(
        resolve_source(args.data, split=args.split, columns=Columns(label=NO_LABEL)), on_bad_row="skip"
    )
    shard = plan_shards(plan, args.n)[0]
    max_length = int(extraction.max_length or 128)
    tokenizer = portable_tokenizer(str(model_path), max_length)
    tok = tokenize_shards(read_shard(plan, shard), tokenizer=tokenizer)
    packed = unpack(tok)[0]
    n = len(packed["row"])
    print(f"{n} texts, model {model_path.name}, threads {torch.get_num_threads()}", flush=True)

    tmp = tempfile.mkdtemp(prefix="nh-bench-score-")
    (Path(tmp) / SHARDS).mkdir()

    def scorer(names: list[str]) -> ShardScorer:
        settings = ScorerSettings(str(model_path), [blobs[k] for k in names], tmp)
        capture, compute = Capture(max_length=max_length), Compute(batch_size=args.batch_size)
        return ShardScorer(dataclasses.replace(settings, capture=capture, compute=compute))

    conv = Conventional(str(model_path))
    L = conv.loaded.n_layers_total
    singles = {name: scorer([name]) for name in blobs}
    group = comma_list(args.together) if args.together else []
    together = scorer(group) if group else None
    times: dict[str, list[float]] = {"conventional": [], **{k: [] for k in singles}, "together": []}
    conv(packed, args.batch_size)  # warm up both paths once
    for s in singles.values():
        s.finish(s.compute(packed))
    for _ in range(args.rounds):
        t = time.perf_counter()
        conv(packed, args.batch_size)
        times["conventional"].append(time.perf_counter() - t)
        for name, s in singles.items():
            t = time.perf_counter()
            s.finish(s.compute(packed))
            times[name].append(time.perf_counter() - t)
        if together:
            t = time.perf_counter()
            together.finish(together.compute(packed))
            times["together"].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in times.items() if v}
    result: dict = {"texts": n, "layers": L, "texts_per_second": {}, "heads": {}}
    base = n / best["conventional"]
    result["texts_per_second"]["conventional"] = round(base, 1)
    print(f"conventional (all {L} layers + linear on the sentence embedding): {base:.1f} texts/s")
    for name, s in singles.items():
        k = max(s.neurons) + 1
        tps = n / best[name]
        ratio, ideal = tps / base, L / k
        result["heads"][name] = {
            "k": k,
            "texts_per_second": round(tps, 1),
            "ratio": round(ratio, 3),
            "ideal_L_over_k": round(ideal, 3),
            "of_ideal": round(ratio / ideal, 3),
        }
        print(
            f"{name}: k={k} of {L} layers, {tps:.1f} texts/s → {ratio:.2f}x the conventional path "
            f"(L/k = {ideal:.2f}; {ratio / ideal:.2f} of ideal)",
            flush=True,
        )
    if together:
        separate = sum(best[k] for k in group)
        speedup = separate / best["together"]
        result["together"] = {
            "heads": group,
            "one_pass_s": round(best["together"], 3),
            "separate_passes_s": round(separate, 3),
            "speedup": round(speedup, 2),
        }
        one = best["together"]
        print(f"{len(group)} heads, one pass: {one:.2f} s; separate: {separate:.2f} s → {speedup:.2f}x")
    print_result(result)


if __name__ == "__main__":
    main()
