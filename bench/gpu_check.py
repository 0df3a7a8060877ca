"""Checks of the GPU path, with numbers, on random-weight models (no download, no pretrained weights).

(a) exactness: the hooked, pooled features on the device equal a recomputation from the module weights
    (tests/models/test_exactness.py's float64 reference, run on CPU): float32 within 1e-4 (atol and
    rtol); bfloat16 and float16 within a stated fraction of each layer's largest |feature|
    (TOLERANCE), for a MiniLM-shaped BERT and a 4-layer GPT-2 of GPT-2 small's width;
(b) ``pick_device_dtype`` picks cuda + bfloat16 when a GPU is visible;
(c) ``neuronhead extract`` on Ray with the GPU (the actor pool sized by ``pool_sizing``: one
    actor per GPU) against the same run on a CPU-only Ray on the same machine: texts/s side by side,
    what the manifest records (device, compute_dtype), and the GPU's bfloat16 features against the
    CPU's float32 features for the same rows;
(d) ``neuronhead score`` with a head fitted on (c)'s features, on the GPU and on the CPU: rows in =
    rows out, prediction agreement, texts/s.

The BERT is MiniLM-L6 shaped (6 layers, 384 wide, FFN 1536; the bundled model's config and tokenizer,
random weights); texts are TweetEval sentiment train tweets. Every part runs on its own: a failure is
recorded with its traceback and the next part runs. The JSON is rewritten after every part.
``--device cpu`` runs the same code with the CPU standing in for the GPU (to test the script).

    PYTHONPATH=. python bench/gpu_check.py --device cuda --n 20000 --out $OUT/gpu_check.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers as T
from common import (
    in_worker_rate,
    machine,
    reference_features,
    save_random_bert,
    shard_stats,
    text_lines,
    train_bpe_tokenizer,
    tweeteval_folder,
    write_json,
)

from neuronhead.models import HookedModel, load_model, tokenize
from neuronhead.pipelines.options import Compute, Engine, Output, Reading

TOLERANCE = {"float32": 1e-4, "bfloat16": 5e-2, "float16": 1e-2}  # see (a)
LONG = "the quick brown fox jumps over the lazy dog " * 30  # truncated at max_length
HEAD = "sent"


def build_gpt2(folder: Path, texts: list[str]) -> Path:
    """GPT-2 small's width (768, FFN 3072) with 4 layers, random weights, a BPE trained on ``texts``."""
    train_bpe_tokenizer(texts, folder, vocab_size=4000)
    tok = T.AutoTokenizer.from_pretrained(folder)
    config = T.GPT2Config(
        n_layer=4,
        n_embd=768,
        n_head=12,
        vocab_size=len(tok),
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(0)
    T.GPT2Model(config).save_pretrained(folder, safe_serialization=True)
    return folder


def subset_tweeteval(src: Path, dst: Path, n: int) -> Path:
    """The first ``n`` train rows of a TweetEval folder (and its val split) as a TweetEval folder."""
    dst.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", n), ("val", None)):
        for kind in ("text", "labels"):
            lines = (src / f"{split}_{kind}.txt").read_text(encoding="utf-8").splitlines()[:rows]
            (dst / f"{split}_{kind}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copy(src / "mapping.txt", dst / "mapping.txt")
    return dst


# -- (a) exactness -----------------------------------------------------------------------------------


def compare(got: dict, want: dict, dtype: str) -> dict[str, Any]:
    """Per layer: max |error|, the layer's max |feature|, and whether it is within TOLERANCE."""
    layers = {}
    for layer, ref in want.items():
        err = np.abs(got[layer] - ref)
        scale = float(np.abs(ref).max())
        if dtype == "float32":
            ok = bool(np.allclose(got[layer], ref, atol=TOLERANCE[dtype], rtol=TOLERANCE[dtype]))
        else:
            ok = bool(np.isfinite(got[layer]).all() and err.max() <= TOLERANCE[dtype] * scale)
        layers[int(layer)] = {
            "max_abs_err": float(err.max()),
            "max_abs_feature": scale,
            "max_err_over_scale": float(err.max() / scale),
            "ok": ok,
        }
    return {"ok": all(v["ok"] for v in layers.values()), "layers": layers}


def part_exactness(ctx: dict[str, Any]) -> dict[str, Any]:
    texts = ctx["val_texts"][:24] + [LONG]
    out: dict[str, Any] = {"texts": len(texts), "max_length": 64, "tolerance": TOLERANCE}
    for arch, folder in (("bert", ctx["bert"]), ("gpt2", ctx["gpt2"])):
        want = reference_features(load_model(folder), texts, 64)  # CPU float32 weights, float64 math
        for dtype in ("float32", "bfloat16", "float16"):
            loaded = load_model(folder, dtype=dtype, device=ctx["device"])
            tokens = tokenize(loaded.tokenizer, texts, 64)
            got = HookedModel(loaded).features(tokens, batch_size=8)
            out[f"{arch}_{dtype}"] = r = compare(got, want, dtype)
            worst = max(v["max_err_over_scale"] for v in r["layers"].values())
            print(f"  {arch} {dtype}: ok={r['ok']}, worst max|err|/max|feature| {worst:.2e}", flush=True)
    out["ok"] = all(v["ok"] for k, v in out.items() if isinstance(v, dict) and "layers" in v)
    return out


# -- (b) device and dtype choice ---------------------------------------------------------------------


def part_pick(ctx: dict[str, Any]) -> dict[str, Any]:
    from neuronhead.pipelines.worker import pick_device_dtype

    auto = pick_device_dtype("auto", "auto")
    expected = ("cuda", "bfloat16") if ctx["device"] == "cuda" else ("cpu", "float32")
    out = {"auto_auto": list(auto), "expected": list(expected), "ok": auto == expected}
    if ctx["device"] == "cuda":
        out["cuda_auto"] = list(pick_device_dtype("cuda", "auto"))
        out["bf16_supported"] = torch.cuda.is_bf16_supported()
        out["ok"] = out["ok"] and out["cuda_auto"] == ["cuda", "bfloat16"]
    return out


# -- (c), (d) Ray pipelines --------------------------------------------------------------------------


def ray_session(ctx: dict[str, Any], num_gpus: int) -> float:
    """A local Ray with explicit CPUs and GPUs, no dashboard; restarted when ``num_gpus`` changes."""
    import ray

    from neuronhead.cluster.connect import default_temp_dir, quiet_ray_data

    if ray.is_initialized():
        if ctx.get("ray_gpus") == num_gpus:
            return 0.0
        ray.shutdown()
    for key, value in (("RAY_USAGE_STATS_ENABLED", "0"), ("RAY_worker_niceness", "0")):
        os.environ.setdefault(key, value)  # as neuronhead's ensure_ray does
    t = time.perf_counter()
    ray.init(
        address="local",
        num_cpus=os.cpu_count(),
        num_gpus=num_gpus,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=default_temp_dir(),
        logging_level=logging.WARNING,
    )
    quiet_ray_data()
    ctx["ray_gpus"] = num_gpus
    return round(time.perf_counter() - t, 1)


def run_extract(ctx: dict[str, Any], side: str) -> dict[str, Any]:
    from neuronhead.cluster.sizing import pool_sizing
    from neuronhead.pipelines.extraction import extract

    device, dtype, gpus, data = ctx["sides"][side]
    ray_start = ray_session(ctx, gpus)
    sizing = pool_sizing(None)
    out = ctx["work"] / f"features-{side}"
    t = time.perf_counter()
    m = extract(
        data,
        out,
        model=str(ctx["bert"]),
        reading=Reading(split="train"),
        engine=Engine("ray"),
        compute=Compute(device=device, dtype=dtype, batch_size=ctx["batch_size"]),
        output=Output(progress=False),
    )
    wall = time.perf_counter() - t
    stats = shard_stats(out)
    ctx[f"features_{side}"] = out
    return {
        "rows": m.rows,
        "errors": m.errors,
        "manifest_device": m.device,
        "manifest_compute_dtype": m.compute_dtype,
        "worker_devices": sorted({(s["device"], s["dtype"]) for s in stats}),
        "pool": {k: getattr(sizing, k) for k in ("size", "num_cpus", "num_gpus", "torch_threads")},
        "ray_start_s": ray_start,
        "texts_per_s": m.texts_per_second,
        "seconds": m.seconds,
        "wall_s": round(wall, 1),
        "in_worker_texts_per_s": round(in_worker_rate(stats), 1),
    }


def part_fit_head(ctx: dict[str, Any]) -> dict[str, Any]:
    from neuronhead.fitting.train import FitOptions, fit_head

    out = ctx["work"] / "head"
    t = time.perf_counter()
    report = fit_head(
        ctx["features_gpu"],
        out,
        params=ctx["head_params"],
        options=FitOptions(depth_curve=False, plots=False, select=None, progress=False),
    )
    ctx["head"] = out
    return {
        "seconds": round(time.perf_counter() - t, 1),
        "params": ctx["head_params"],
        "head": report["head"],
    }


def run_score(ctx: dict[str, Any], side: str) -> dict[str, Any]:
    from neuronhead.pipelines.scoring import score

    device, dtype, gpus, data = ctx["sides"][side]
    ray_start = ray_session(ctx, gpus)
    out = ctx["work"] / f"scores-{side}"
    t = time.perf_counter()
    r = score(
        [f"{HEAD}={ctx['head']}"],
        data,
        out,
        reading=Reading(split="train"),
        engine=Engine("ray"),
        compute=Compute(device=device, dtype=dtype, batch_size=ctx["batch_size"]),
        output=Output(progress=False),
    )
    stats = shard_stats(out)
    ctx[f"scores_{side}"] = out
    return {
        "rows_in": r["rows_in"],
        "rows_out": r["rows_out"],
        "scored": r["scored"],
        "errors": r["errors"],
        "rows_in_equals_out": r["rows_in"] == r["rows_out"],
        "deepest_layer": r["deepest_layer"],
        "worker_devices": sorted({(s["device"], s["dtype"]) for s in stats}),
        "ray_start_s": ray_start,
        "texts_per_s": r["texts_per_second"],
        "seconds": r["seconds"],
        "wall_s": round(time.perf_counter() - t, 1),
        "peak_rss_mb": r["peak_rss_mb"],
    }


def part_compare_features(ctx: dict[str, Any]) -> dict[str, Any]:
    """The GPU side's (bf16) features against the CPU side's (fp32) for the rows both extracted."""
    from neuronhead.store import load_features

    a, b = load_features(ctx["features_gpu"]), load_features(ctx["features_cpu"])
    common, ia, ib = np.intersect1d(a["row"], b["row"], return_indices=True)
    xa, xb = a["X"][ia], b["X"][ib]  # (rows, layers, 2, width) float32 from float16 storage
    layers = {}
    for pos, layer in enumerate(a["manifest"].layers):
        err = np.abs(xa[:, pos] - xb[:, pos])
        scale = float(np.abs(xb[:, pos]).max())
        layers[int(layer)] = {
            "max_abs_err": float(err.max()),
            "max_abs_feature": scale,
            "max_err_over_scale": float(err.max() / scale),
            "mean_abs_err_over_mean_abs": float(err.mean() / np.abs(xb[:, pos]).mean()),
            "p99_rel_err": float(np.quantile(err / np.maximum(np.abs(xb[:, pos]), 1e-3), 0.99)),
        }
    worst = max(v["max_err_over_scale"] for v in layers.values())
    return {"rows_compared": int(len(common)), "layers": layers, "worst_max_err_over_scale": worst}


def part_compare_scores(ctx: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.parquet as pq

    def read(folder: Path):
        return pq.read_table(folder / "shards").sort_by("row").to_pandas().set_index("row")

    a, b = read(ctx["scores_gpu"]), read(ctx["scores_cpu"])
    rows = a.index.intersection(b.index)
    ia, ib = a.loc[rows, f"{HEAD}_label_id"], b.loc[rows, f"{HEAD}_label_id"]
    pa_, pb = (np.stack(x.loc[rows, f"{HEAD}_scores"].to_numpy()) for x in (a, b))
    return {
        "rows_compared": int(len(rows)),
        "agreement_pct": round(100 * float((ia.to_numpy() == ib.to_numpy()).mean()), 3),
        "max_abs_prob_diff": float(np.abs(pa_ - pb).max()),
        "predicted_classes_gpu": {str(k): int(v) for k, v in ia.value_counts().items()},
        "predicted_classes_cpu": {str(k): int(v) for k, v in ib.value_counts().items()},
    }


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for kind in ("extract", "score"):
        g, c = result.get(f"{kind}_gpu", {}), result.get(f"{kind}_cpu", {})
        if g.get("texts_per_s") and c.get("texts_per_s"):
            out[f"{kind}_gpu_over_cpu"] = round(g["texts_per_s"] / c["texts_per_s"], 2)
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    parser.add_argument("--n", type=int, default=20000, help="train tweets for extract and score")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", help="TweetEval sentiment folder (default: shared data, else .gpudata)")
    parser.add_argument(
        "--ray-gpus",
        type=int,
        help="GPUs declared to Ray for the GPU side (default 1 on cuda, else 0; 1 on a CPU-only machine "
        "tests the GPU actor sizing and the Ray restart between the two sides)",
    )
    parser.add_argument("--skip", default="", help="comma list of parts to skip")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--out", default="gpu_check.json")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("warning: --device cuda but no CUDA device is visible; the parts will fail", flush=True)
    src = Path(args.data) if args.data else tweeteval_folder("sentiment")
    work = Path(tempfile.mkdtemp(prefix="nh-gpu-check-"))
    gpus = args.ray_gpus if args.ray_gpus is not None else int(args.device == "cuda")
    ctx: dict[str, Any] = {
        "device": args.device,
        "work": work,
        "batch_size": args.batch_size,
        "val_texts": text_lines(src / "val_text.txt"),
        "head_params": {"max_layer": 2, "probe_params": {"folds": 2, "max_epochs": 3}},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "environment": {"device": args.device, **machine()},
        "n": args.n,
        "data": str(src),
    }
    print(f"gpu_check: {result['environment']}", flush=True)

    def setup(_: dict) -> dict[str, Any]:
        data = subset_tweeteval(src, work / "sentiment", args.n)  # named so: the TweetEval metric
        # The GPU side asks for nothing: "auto" must resolve to cuda + bfloat16 inside the Ray actor.
        auto = "auto" if args.device == "cuda" else "cpu"
        ctx["sides"] = {"gpu": (auto, "auto", gpus, data), "cpu": ("cpu", "float32", 0, data)}
        ctx["bert"] = save_random_bert(work / "bert")  # MiniLM-L6's shapes and WordPiece tokenizer
        ctx["gpt2"] = build_gpt2(work / "gpt2", text_lines(src / "train_text.txt", 5000))
        return {"work": str(work), "train_rows": args.n, "bert": str(ctx["bert"]), "gpt2": str(ctx["gpt2"])}

    parts: list[tuple[str, Callable[[dict], dict]]] = [
        ("setup", setup),
        ("exactness", part_exactness),
        ("pick_device_dtype", part_pick),
        ("extract_gpu", lambda c: run_extract(c, "gpu")),
        ("fit_head", part_fit_head),
        ("score_gpu", lambda c: run_score(c, "gpu")),
        ("extract_cpu", lambda c: run_extract(c, "cpu")),
        ("compare_features", part_compare_features),
        ("score_cpu", lambda c: run_score(c, "cpu")),
        ("compare_scores", part_compare_scores),
    ]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    for name, fn in parts:
        if name in skip:
            continue
        print(f"[{name}] ...", flush=True)
        t = time.perf_counter()
        try:
            r = fn(ctx)
            r["part_seconds"] = round(time.perf_counter() - t, 1)
            print(f"[{name}] {json.dumps(r, default=str)[:1500]}", flush=True)
        except Exception as exc:
            r = {"error": repr(exc)[:4000], "traceback": traceback.format_exc()[-6000:]}
            r["part_seconds"] = round(time.perf_counter() - t, 1)
            print(f"[{name}] FAILED after {r['part_seconds']} s:\n{r['traceback']}", flush=True)
        result[name] = r
        result["gpu_over_cpu"] = ratios(result)
        write_json(out, result)
    try:
        import ray

        ray.shutdown()
    except Exception:
        pass
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"gpu_over_cpu: {result['gpu_over_cpu']}; wrote {out}", flush=True)


if __name__ == "__main__":
    main()
