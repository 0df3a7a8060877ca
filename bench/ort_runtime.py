"""A first measurement for issue 38: MiniLM's pooled FFN features from eager PyTorch (``HookedModel``)
against the same model exported to ONNX, pooling in the graph, run by ONNX Runtime; fp32, and with
ONNX Runtime's dynamic int8 quantisation of the linear layers.

Same texts (the demo's score.csv, ``--repeat`` times), same length-sorted batches of 64, 2 threads,
rounds in alternation. It reports seconds per round, the median ratio, and each runtime's largest
absolute feature difference from the eager features. Not a runtime of neuronhead yet: onnxruntime and
onnx are not dependencies, so install them apart and name the folder:

    .venv/bin/python -m pip install --target /tmp/ort-site onnxruntime onnx
    .venv/bin/python bench/ort_runtime.py --extra-site /tmp/ort-site \
        --out docs/data/cpu-2026-12-08/ort_runtime.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import ROOT, machine, print_result, write_json

from neuronhead.models import HookedModel, load_model, tokenize
from neuronhead.models.padding import pad_batch
from neuronhead.models.tokens import length_sorted_batches


class PooledGraph(torch.nn.Module):
    """The model's forward with every layer's FFN activations pooled (masked mean and max) as outputs:
    ``(batch, layers, 2, width)``, what an exported graph must give."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model, self.acts = model, []
        for layer in model.encoder.layer:  # BERT: output.dense is the down projection
            layer.output.dense.register_forward_pre_hook(lambda _m, args: self.acts.append(args[0]))

    def forward(self, ids: torch.Tensor, att: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
        self.acts.clear()
        self.model(input_ids=ids, attention_mask=att)
        weights = pool.to(torch.float32)
        count = weights.sum(1, keepdim=True)
        out = []
        for acts in self.acts:
            mean = torch.einsum("bt,btw->bw", weights, acts) / count
            top = acts.masked_fill(~pool.bool()[:, :, None], float("-inf")).amax(1)
            out.append(torch.stack((mean, top), 1))
        return torch.stack(out, 1)


def session(path: Path, ort):  # noqa: ANN001, ANN201 (onnxruntime is imported at run time)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export(loaded, tok, folder: Path) -> tuple[Path, Path]:  # noqa: ANN001
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ids, att, pool = pad_batch(tok.ids[:4], tok.special[:4], int(loaded.tokenizer.pad_token_id))
    fp32, int8 = folder / "minilm.onnx", folder / "minilm.int8.onnx"
    axes = {name: {0: "batch", 1: "tokens"} for name in ("ids", "att", "pool")} | {"feats": {0: "batch"}}
    graph = PooledGraph(loaded.model.eval()).eval()
    torch.onnx.export(
        graph, (ids, att, pool), str(fp32), input_names=["ids", "att", "pool"], output_names=["feats"],
        dynamic_axes=axes, opset_version=17, dynamo=False,
    )  # fmt: skip
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--extra-site", help="a folder holding onnxruntime and onnx (appended to sys.path)")
    parser.add_argument("--repeat", type=int, default=10, help="times the demo's 300 texts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.extra_site:
        sys.path.append(args.extra_site)
    import onnxruntime as ort

    torch.set_num_threads(2)
    loaded = load_model()
    rows = (ROOT / "examples" / "demo" / "score.csv").read_text(encoding="utf-8").splitlines()[1:]
    texts = [row.split(",", 2)[-1] for row in rows] * args.repeat
    tok = tokenize(loaded.tokenizer, texts, 128)
    hooked = HookedModel(loaded)
    batches = list(length_sorted_batches([len(x) for x in tok.ids], 64, None, sort=True))
    folder = Path(tempfile.mkdtemp(prefix="nh-ort-"))
    paths = export(loaded, tok, folder)
    sessions = {name: session(path, ort) for name, path in zip(("ort_fp32", "ort_int8"), paths, strict=True)}

    def run(sess) -> np.ndarray:  # noqa: ANN001
        out = np.empty((len(texts), len(hooked.layers), 2, loaded.ffn_width), np.float32)
        for b in batches:
            i, a, p = pad_batch([tok.ids[k] for k in b], [tok.special[k] for k in b], hooked.pad_id)
            out[np.asarray(b)] = sess.run(None, {"ids": i.numpy(), "att": a.numpy(), "pool": p.numpy()})[0]
        return out

    seconds: dict[str, list[float]] = {}
    got: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, fn in [("torch", lambda: np.stack(list(hooked.features(tok).values()), 1))] + [
            (name, lambda s=s: run(s)) for name, s in sessions.items()
        ]:
            t0 = time.perf_counter()
            got[name] = fn()
            seconds.setdefault(name, []).append(round(time.perf_counter() - t0, 2))
    result = {
        "machine": machine(),
        "onnxruntime": ort.__version__,
        "texts": len(texts),
        "layers": len(hooked.layers),
        "seconds": seconds,
        "speedup_median": {
            n: round(np.median(seconds["torch"]) / np.median(seconds[n]), 2) for n in sessions
        },
        "max_abs_diff_from_torch": {n: float(np.abs(got[n] - got["torch"]).max()) for n in sessions},
    }
    write_json(args.out, result)
    print_result(result)


if __name__ == "__main__":
    main()
