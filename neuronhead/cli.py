"""The ``neuronhead`` command: parse, call the Python function behind each command, print."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _add_extract(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="pooled FFN activations of a text collection → Parquet feature folder",
        description="Extract mean- and max-pooled post-activation FFN features per text.",
    )
    p.add_argument(
        "--model", default=None, help="model folder or hub id (default: the bundled all-MiniLM-L6-v2)"
    )
    p.add_argument(
        "--data",
        required=True,
        help="CSV/JSONL/Parquet file, folder or glob; TweetEval task folder; datasets save_to_disk "
        "folder; or hf:NAME[:CONFIG]",
    )
    p.add_argument("--split", default=None, help="split of a TweetEval folder or dataset (default: train)")
    p.add_argument("--out", required=True, help="output folder (rerun to resume)")
    p.add_argument("--layers", default=None, help="layers to keep, e.g. 0-5 or 0,2,4-5 (default: all)")
    p.add_argument("--max-length", type=int, default=128, help="tokens per text; longer texts are truncated")
    p.add_argument("--batch-size", type=int, default=64, help="texts per forward pass")
    p.add_argument("--max-tokens", type=int, default=None, help="cap on padded tokens per forward pass")
    p.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "float32", "float16", "bfloat16"],
        help="compute dtype (auto: float32 on CPU, bf16/fp16 on CUDA)",
    )
    p.add_argument(
        "--pool-special-tokens",
        action="store_true",
        help="let [CLS]/[SEP]/<s>/</s> take part in pooling (default: content tokens only)",
    )
    p.add_argument(
        "--on-bad-row",
        default="error",
        choices=["error", "skip"],
        help="stop at the first bad row, or skip and list bad rows in OUT/bad_rows.jsonl",
    )
    p.add_argument("--text-column", default="text")
    p.add_argument("--id-column", default="id")
    p.add_argument("--label-column", default="label")
    p.add_argument("--shard-rows", type=int, default=None, help="rows per output shard (default: ~64 MiB)")
    p.add_argument(
        "--engine",
        default="ray",
        choices=["ray", "local"],
        help="ray: Ray Data actor pool (default); local: same steps in this process",
    )
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument(
        "--num-actors", type=int, default=None, help="model actors (default: sized to the cluster)"
    )
    p.add_argument("--trust-remote-code", action="store_true", help="allow model code from the model folder")
    p.set_defaults(func=_extract)


def _extract(args: argparse.Namespace) -> int:
    from neuronhead.pipelines.extract import extract

    manifest = extract(
        args.data,
        args.out,
        model=args.model,
        split=args.split,
        layers=args.layers,
        max_length=args.max_length,
        batch_size=args.batch_size,
        max_tokens=args.max_tokens,
        dtype=args.dtype,
        pool_special_tokens=args.pool_special_tokens,
        on_bad_row=args.on_bad_row,
        shard_rows=args.shard_rows,
        text_column=args.text_column,
        id_column=args.id_column,
        label_column=args.label_column,
        engine=args.engine,
        address=args.address,
        num_actors=args.num_actors,
        trust_remote_code=args.trust_remote_code,
    )
    summary = {
        k: manifest.get(k) for k in ("rows_in", "rows", "bad_rows", "errors", "truncated", "texts_per_second")
    }
    print(f"features: {args.out} " + json.dumps(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuronhead", description=__doc__)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    _add_extract(sub)
    return parser


def _version() -> str:
    import neuronhead

    return f"neuronhead {neuronhead.__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, NotImplementedError) as exc:
        print(f"neuronhead {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
