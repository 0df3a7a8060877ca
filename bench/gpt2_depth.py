"""GPT-2 family, full scale, no pretrained weights: throughput and peak memory vs depth k.

Randomly initialised GPT-2 small (12 layers, 768 wide) and a GPT2-XL-shaped model (48 layers, 1600
wide, FFN 6400) built directly on the target device and dtype. Speed and memory do not depend on the
weights' values, so random weights show what early stopping saves at the scale where it matters,
without downloading anything. For each depth k, as neuronhead does it (only the first k blocks are
materialised, the forward stops inside block k-1):

- ``extract``: every FFN neuron of layers 0..k-1, pooled (mean, max) and copied to the host;
- ``score``:   a head's share of neurons per layer (``--fraction``) and a linear head on them;

side by side with the path it replaces, measured in the same run on the same batches:

- ``plain``:   the whole L-layer model, a plain Hugging Face forward (no hidden states), the final
  hidden state mean-pooled and copied to the host (the conventional sentence-embedding classifier).

The printed ratio texts/s(k) / texts/s(plain) is the saving, next to the ideal L/k.

Memory: on CUDA, ``torch.cuda.max_memory_allocated`` (weights included) after a reset, in this process.
On CPU each measurement runs in a subprocess of its own and reports its peak RSS (``ru_maxrss``) minus
its RSS before the model was built: peak RSS cannot be reset, and tracemalloc does not see torch.
The host arrays of pooled features (``features_mb``) are part of the CPU peak.

Tokenizer: no GPT-2 vocabulary can be downloaded here, so a byte-level BPE (8,000 tokens) is trained on
the first 20,000 lines of the text file; the embedding matrix keeps GPT-2's 50,257 rows, so the
weights take the real model's memory. The mean tokens per text is recorded, since throughput depends on it.

    python bench/gpt2_depth.py --device cpu --shape small --n 256 --out gpt2_small_cpu.json
    python bench/gpt2_depth.py --device cuda --dtype bfloat16,float32 --shape xl --n 1024 --out x.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch
import transformers as T
from common import (
    comma_list,
    machine,
    nonempty_texts,
    parse_result,
    print_result,
    text_lines,
    train_bpe_tokenizer,
    tweeteval_folder,
    write_json,
)

from neuronhead.models.hooked import HookedModel
from neuronhead.models.loading import LoadedModel, load_tokenizer, torch_dtype
from neuronhead.models.padding import pad_batch
from neuronhead.models.registry import spec_for
from neuronhead.models.tokens import Tokenized, length_sorted_batches, tokenize

SHAPES = {
    "small": {"n_layer": 12, "n_embd": 768, "n_head": 12},
    "xl": {"n_layer": 48, "n_embd": 1600, "n_head": 25},
}
DEPTHS = {"small": [1, 3, 6, 12], "xl": [1, 6, 12, 24, 48]}
GPT2_VOCAB = 50257


def build_gpt2(shape: str, depth: int, device: str, dtype: str, tokenizer: Any) -> LoadedModel:
    """A random GPT-2 of ``shape`` with its first ``depth`` blocks, made on ``device`` in ``dtype``.

    Equivalent to ``load_model(folder, depth=depth)`` for speed and memory (the same module tree with
    ``n_layer=depth``), without writing several GB of random weights to disk first.
    """
    total = SHAPES[shape]["n_layer"]
    config = T.GPT2Config(
        **{**SHAPES[shape], "n_layer": depth},
        vocab_size=GPT2_VOCAB,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = T.AutoModel.from_config(config, dtype=torch_dtype(dtype))
    model.eval()
    spec = spec_for(config)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        spec=spec,
        config=config,
        path=Path(f"random-gpt2-{shape}"),
        n_layers_total=total,
        n_loaded=depth,
        ffn_width=spec.ffn_width(config),
    )


def plain_runner(loaded: LoadedModel, batch_size: int) -> Callable[[Tokenized], Any]:
    """The conventional path: full forward, mean-pooled final hidden state, to the host."""
    model, pad = loaded.model, int(loaded.tokenizer.pad_token_id)
    device = next(model.parameters()).device

    @torch.inference_mode()
    def run(tokens: Tokenized) -> np.ndarray:
        out = np.empty((len(tokens), model.config.n_embd), np.float32)
        for batch in length_sorted_batches([len(x) for x in tokens.ids], batch_size):
            ids, att, _ = pad_batch([tokens.ids[i] for i in batch], [tokens.special[i] for i in batch], pad)
            ids, att = ids.to(device), att.to(device)
            hidden = model(input_ids=ids, attention_mask=att, output_hidden_states=False).last_hidden_state
            m = att.unsqueeze(-1).to(hidden.dtype)
            out[np.asarray(batch)] = ((hidden * m).sum(1) / m.sum(1)).float().cpu().numpy()
        return out

    return run


def hooked_runner(
    loaded: LoadedModel, batch_size: int, fraction: float | None, seed: int = 0
) -> Callable[[Tokenized], Any]:
    """neuronhead's path: all neurons of layers 0..k-1 (extract) or ``fraction`` of them + a head (score)."""
    layers = list(range(loaded.n_loaded))
    if fraction is None:
        hooked = HookedModel(loaded, layers)
        return lambda tokens: hooked.features(tokens, batch_size=batch_size)
    rng = np.random.default_rng(seed)
    per_layer = max(1, round(fraction * loaded.ffn_width))
    neurons = {layer: np.sort(rng.choice(loaded.ffn_width, per_layer, replace=False)) for layer in layers}
    hooked = HookedModel(loaded, layers, neurons=neurons)
    weights = rng.standard_normal((len(layers) * 2 * per_layer, 3)).astype(np.float32)

    def run(tokens: Tokenized) -> np.ndarray:
        feats = hooked.features(tokens, batch_size=batch_size)
        x = np.concatenate([feats[layer].reshape(len(tokens), -1) for layer in layers], axis=1)
        return (x @ weights).argmax(1)

    return run


def sig(x: float, digits: int = 4) -> float:
    """``x`` to ``digits`` significant digits: throughputs here range from 0.1 to 100,000 texts/s."""
    return float(f"{x:.{digits}g}")


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """One (shape, dtype, mode, k): build, warm up, time ``rounds`` passes over the texts, memory."""
    device, n, bs = job["device"], job["n"], job["batch_size"]
    tokenizer = load_tokenizer(Path(job["tokenizer"]))
    tokens = tokenize(tokenizer, nonempty_texts(job["texts"], n), job["max_length"])
    warm = min(n, 2 * bs)
    warm_tokens = Tokenized(tokens.ids[:warm], tokens.special[:warm], tokens.truncated[:warm])
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    rss0 = rss_mb()
    t0 = time.perf_counter()
    loaded = build_gpt2(job["shape"], job["k"], device, job["dtype"], tokenizer)
    if job.get("no_kv_cache"):  # what HookedModel would get from passing use_cache=False
        loaded.model.config.use_cache = False
    _sync(device)
    build_s = time.perf_counter() - t0
    weights_mb = sum(p.numel() * p.element_size() for p in loaded.model.parameters()) / 2**20
    if job["mode"] == "plain":
        run = plain_runner(loaded, bs)
        widths = 0
    else:
        fraction = job["fraction"] if job["mode"] == "score" else None
        run = hooked_runner(loaded, bs, fraction)
        widths = loaded.n_loaded * (
            max(1, round(fraction * loaded.ffn_width)) if fraction else loaded.ffn_width
        )
    run(warm_tokens)
    _sync(device)
    times = []
    for _ in range(job["rounds"]):
        _sync(device)
        t = time.perf_counter()
        run(tokens)
        _sync(device)
        times.append(time.perf_counter() - t)
    best = min(times)
    result = {
        **{k: job[k] for k in ("shape", "dtype", "mode", "k", "n", "batch_size")},
        "layers_total": loaded.n_layers_total,
        "texts_per_s": sig(n / best),
        "tokens_per_s": sig(sum(len(x) for x in tokens.ids) / best),
        "seconds": [sig(t) for t in times],
        "build_s": round(build_s, 2),
        "weights_mb": round(weights_mb, 1),
        "features_mb": round(n * widths * 2 * 4 / 2**20, 1),  # host float32 arrays of pooled features
    }
    if device == "cuda":
        result["gpu_peak_mb"] = round((torch.cuda.max_memory_allocated() - base) / 2**20, 1)
        result["gpu_peak_over_weights_mb"] = round(result["gpu_peak_mb"] - weights_mb, 1)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        result.update(
            rss_before_mb=round(rss0, 1), peak_rss_mb=round(peak, 1), peak_rss_delta_mb=round(peak - rss0, 1)
        )
    del run, loaded
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return result


def measure_isolated(job: dict[str, Any], timeout: float | None) -> dict[str, Any]:
    """``measure`` in a fresh interpreter, so its peak RSS is its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--one", json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    result = parse_result(proc.stdout)
    if proc.returncode != 0 or result is None:
        raise RuntimeError(f"exit {proc.returncode}: {proc.stderr[-3000:]}")
    return result


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (shape, dtype, k): texts/s and memory of extract and score, and their ratio to plain."""
    rows = []
    for shape, dtype in dict.fromkeys((r["shape"], r["dtype"]) for r in runs if "texts_per_s" in r):
        group = [r for r in runs if r["shape"] == shape and r["dtype"] == dtype and "texts_per_s" in r]
        plain = next((r for r in group if r["mode"] == "plain"), None)
        for k in sorted({r["k"] for r in group if r["mode"] != "plain"}):
            row: dict[str, Any] = {"shape": shape, "dtype": dtype, "k": k, "L": group[0]["layers_total"]}
            row["ideal_L_over_k"] = round(row["L"] / k, 2)
            for r in group:
                if r["mode"] == "plain" or r["k"] != k:
                    continue
                mem = r.get("gpu_peak_mb", r.get("peak_rss_delta_mb"))
                row[f"{r['mode']}_texts_per_s"] = r["texts_per_s"]
                row[f"{r['mode']}_peak_mb"] = mem
                if plain:
                    row[f"{r['mode']}_vs_plain"] = sig(min(plain["seconds"]) / min(r["seconds"]), 3)
            if plain:
                row["plain_texts_per_s"] = plain["texts_per_s"]
                row["plain_peak_mb"] = plain.get("gpu_peak_mb", plain.get("peak_rss_delta_mb"))
            rows.append(row)
    return rows


COLUMNS = [  # (header, key) of the printed table
    ("k/L", None),
    ("plain/s", "plain_texts_per_s"),
    ("extract/s", "extract_texts_per_s"),
    ("x plain", "extract_vs_plain"),
    ("score/s", "score_texts_per_s"),
    ("x plain", "score_vs_plain"),
    ("L/k", "ideal_L_over_k"),
    ("MiB plain", "plain_peak_mb"),
    ("MiB extract", "extract_peak_mb"),
    ("MiB score", "score_peak_mb"),
]


def print_summary(rows: list[dict[str, Any]]) -> None:
    for shape, dtype in dict.fromkeys((r["shape"], r["dtype"]) for r in rows):
        print(f"{shape} {dtype}:  " + " ".join(f"{h:>11}" for h, _ in COLUMNS), flush=True)
        for r in rows:
            if (r["shape"], r["dtype"]) == (shape, dtype):
                cells = [f"{r['k']}/{r['L']}"] + [str(r.get(key, "-")) for _, key in COLUMNS[1:]]
                print(" " * (len(shape) + len(dtype) + 4) + " ".join(f"{c:>11}" for c in cells), flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", action="append", help="float32|bfloat16|float16, repeatable or comma list")
    parser.add_argument("--shape", action="append", help="small|xl, repeatable or comma list (default small)")
    parser.add_argument("--depths", help="comma list of k (default small: 1,3,6,12; xl: 1,6,12,24,48)")
    parser.add_argument("--modes", default="extract,score", help="hooked modes to run next to plain")
    parser.add_argument("--n", type=int, default=512, help="texts per timed pass")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="timed passes per measurement (best is kept)")
    parser.add_argument("--fraction", type=float, default=0.05, help="neurons per layer a scoring head keeps")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--texts", help="one text per line (default: TweetEval sentiment train)")
    parser.add_argument(
        "--no-kv-cache",
        action="store_true",
        help="config.use_cache=False on every path (GPT-2 otherwise keeps a KV cache of each layer run)",
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds per CPU measurement")
    parser.add_argument("--out", default="gpt2_depth.json")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one measurement, in a subprocess
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.one:
        print_result(measure(json.loads(args.one)))
        return
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda but torch.cuda.is_available() is False")
    shapes = comma_list(",".join(args.shape or ["small"]))  # repeatable flags, each a comma list
    dtypes = comma_list(",".join(args.dtype or ["float32"]))
    modes = comma_list(args.modes)
    texts_path = args.texts or str(tweeteval_folder("sentiment") / "train_text.txt")
    texts = nonempty_texts(texts_path, args.n)
    corpus = [t for t in text_lines(texts_path, 20000) if t]
    tok_dir = train_bpe_tokenizer(corpus, Path(tempfile.mkdtemp(prefix="gpt2-bpe-")))
    tokenizer = load_tokenizer(tok_dir)
    lengths = [len(x) for x in tokenize(tokenizer, texts, args.max_length).ids]
    result: dict[str, Any] = {
        "environment": {"device": args.device, **machine()},
        "texts": {
            "path": texts_path,
            "n": args.n,
            "mean_tokens": round(float(np.mean(lengths)), 1),
            "max_length": args.max_length,
            "tokenizer": "byte-level BPE, 8000 tokens, trained on the file's first 20k lines",
        },
        "batch_size": args.batch_size,
        "fraction": args.fraction,
        "kv_cache": not args.no_kv_cache,
        "memory": "CUDA: max_memory_allocated after reset, MiB; CPU: peak RSS - RSS before build, MiB",
        "runs": [],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    print(
        f"{args.n} texts, mean {result['texts']['mean_tokens']} tokens; {result['environment']}", flush=True
    )
    common = {
        "device": args.device,
        "n": args.n,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "fraction": args.fraction,
        "max_length": args.max_length,
        "texts": texts_path,
        "tokenizer": str(tok_dir),
        "no_kv_cache": args.no_kv_cache,
    }
    for shape in shapes:
        L = SHAPES[shape]["n_layer"]
        depths = comma_list(args.depths, int) if args.depths else DEPTHS[shape]
        depths = [k for k in depths if 1 <= k <= L]
        for dtype in dtypes:
            jobs = [("plain", L)] + [(mode, k) for k in depths for mode in modes]
            for mode, k in jobs:
                job = {**common, "shape": shape, "dtype": dtype, "mode": mode, "k": k}
                tag, t = f"[{shape} {dtype} {mode} k={k}/{L}]", time.perf_counter()
                try:
                    r = measure_isolated(job, args.timeout) if args.device == "cpu" else measure(job)
                    mem = r.get("gpu_peak_mb", r.get("peak_rss_delta_mb"))
                    print(
                        f"{tag} {r['texts_per_s']} texts/s, peak {mem} MiB, weights {r['weights_mb']} MiB "
                        f"({time.perf_counter() - t:.1f} s)",
                        flush=True,
                    )
                except Exception as exc:
                    r = {x: job[x] for x in ("shape", "dtype", "mode", "k")}
                    r.update(error=repr(exc)[:4000], traceback=traceback.format_exc()[-4000:])
                    print(f"{tag} FAILED: {r['traceback']}", flush=True)
                    if args.device == "cuda":
                        gc.collect()
                        torch.cuda.empty_cache()
                result["runs"].append(r)
                result["summary"] = summarize(result["runs"])
                write_json(out, result)
    print_summary(result.get("summary", []))
    print(f"wrote {out}", flush=True)


if __name__ == "__main__":
    main()
