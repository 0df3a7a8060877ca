"""The ``neuronhead`` command: parse, call the Python function behind each command, print."""

from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from neuronhead.cluster.early import start_ray_early, uses_ray
from neuronhead.cluster.engines import ENGINES
from neuronhead.cluster.logs import VERBOSE, verbose
from neuronhead.heads.options import HeadOptions
from neuronhead.pipelines.options import Capture, Compute, Reading
from neuronhead.spine import add_flags, from_flags

if TYPE_CHECKING:
    from neuronhead.pipelines.options import Engine
    from neuronhead.run.from_data import TrainingData

DESCRIPTION = (
    "Classify and score large text collections with the internal FFN neurons of a pretrained "
    "transformer, without fine-tuning it. Start with `neuronhead run --train DATA --out DIR`; "
    "each command's --help says more."
)
# The commands whose work is a Ray pipeline when Ray is chosen start it while these import (others
# may not need Ray at all: fit from cached features, a resumed run).
EARLY_RAY_COMMANDS = ("extract", "score")
RAY_COMMAND_IMPORTS = ("torch", "transformers", "neuronhead.pipelines")


def _add_engine(
    p: argparse.ArgumentParser, *, default: str | None = "auto", actors: bool = False, what: str = ""
) -> None:
    """``--engine`` and ``--address`` (and ``--num-actors`` where a model pool runs): one spelling."""
    p.add_argument(
        "--engine",
        default=default,
        choices=ENGINES,
        help=f"{what + ': ' if what else ''}ray: on Ray (a local one unless --address); "
        "local: same steps in this process; "
        "auto (default): Ray when there is a cluster, a GPU or room for several model actors, else local",
    )
    p.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray when Ray runs)")
    if actors:
        p.add_argument(
            "--num-actors", type=int, default=None, help="model actors (default: sized to the cluster)"
        )


def _add_compute(p: argparse.ArgumentParser) -> None:
    """How the model runs, the same for ``extract`` and ``score``: ``Compute``'s fields."""
    add_flags(p, Compute)


def _args_extract(p: argparse.ArgumentParser) -> None:
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
    add_flags(p, Capture, only=("layers", "max_length"))
    _add_compute(p)
    add_flags(p, Capture, only=("pool_special_tokens",))
    add_flags(p, Reading, only=("on_bad_row", "text_column", "id_column", "label_column"))
    p.add_argument("--shard-rows", type=int, default=None, help="rows per output shard (default: ~64 MiB)")
    _add_engine(p, actors=True)
    add_flags(p, Reading, only=("label_kind",))
    add_flags(p, Capture, only=("embeddings",))
    _add_reading(p)


def _compute(args: argparse.Namespace) -> Compute:
    return from_flags(Compute, args)


def _engine(args: argparse.Namespace) -> Engine:
    from neuronhead.pipelines.options import Engine

    return Engine(args.engine, args.address, getattr(args, "num_actors", None))


def _extract(args: argparse.Namespace) -> int:
    from neuronhead.pipelines.extraction import extract
    from neuronhead.pipelines.options import Output

    manifest = extract(
        args.data,
        args.out,
        model=args.model,
        capture=from_flags(Capture, args),
        reading=_reading_options(args),
        compute=_compute(args),
        engine=_engine(args),
        output=Output(shard_rows=args.shard_rows),
    )
    summary = {
        k: getattr(manifest, k)
        for k in ("rows_in", "rows", "bad_rows", "errors", "truncated", "texts_per_second")
    }
    print(f"features: {args.out} " + json.dumps(summary))
    return 0


def _add_reading(p: argparse.ArgumentParser) -> None:
    """How texts are read: the input's format, TweetEval normalisation, and which tweets of a dump run."""
    from neuronhead.tweets.options import TweetOptions

    add_flags(p, Reading, only=("format", "normalize"))
    add_flags(p, TweetOptions)
    p.add_argument("--lang", default=None, help="tweet dumps: keep only these languages, e.g. en,es")


def _reading_options(args: argparse.Namespace) -> Reading:
    """``Reading`` from the flags this command has, tweet filters gathered into ``TweetOptions``."""
    from neuronhead.pipelines.options import Reading

    return from_flags(Reading, args, **_reading(args))


def _reading(args: argparse.Namespace) -> dict:
    from neuronhead.tweets.options import TweetOptions

    tweets = TweetOptions.from_args(args.retweets, args.dedupe, args.lang)
    given = {"format": args.format, "normalize": args.normalize, "tweets": tweets if tweets.active else None}
    # Only what differs from the defaults, so extraction caches keyed on these options stay valid.
    return {k: v for k, v in given.items() if v not in ("auto", None)}


def _args_fit(p: argparse.ArgumentParser) -> None:
    _add_data_arguments(p)
    p.add_argument("--out", required=True, help="head folder to write")
    p.add_argument(
        "--task", default=None, choices=["classification", "regression"], help="default: from the labels"
    )
    p.add_argument("--metric", default=None, help="headline metric (default: TweetEval task metric)")
    add_flags(p.add_argument_group("the head (as for `run`)"), HeadOptions)
    p.add_argument("--val-fraction", type=float, default=0.1, help="held out of --train when --val is absent")
    p.add_argument("--baselines", action="store_true", help="also fit the baselines (side by side)")
    p.add_argument(
        "--prefer",
        default="robust",
        choices=["robust", "cheaper"],
        help="robust (default): ship the ensemble of the all-layer probe and the two-phase head (or the "
        "--variant asked for), with no search: it held up best on topics and collections the fit never "
        "saw. cheaper: search heads, shallower heads and probes (--select-on) and ship the one that "
        "stops earliest within noise of the best; cheaper to score, but it loses under shift",
    )
    p.add_argument(
        "--select-on",
        default="auto",
        choices=["auto", "dev", "cv", "val", "none"],
        help="with --prefer cheaper, where candidates are compared: dev: a 20%% split carved from "
        "--train; cv: folds of --train; auto (default): dev when it holds 1,000 rows, else cv; val: the "
        "validation data (then its figure is not held out). none (either --prefer): ship the head the "
        "flags describe",
    )
    p.add_argument(
        "--dev-fraction", type=float, default=0.2, help="share of --train carved out for --select-on dev"
    )
    p.add_argument("--cv-folds", type=int, default=3, help="folds of --train for --select-on cv")
    p.add_argument("--no-plots", action="store_true", help="write no plots/")
    add_flags(p, Capture, only=("embeddings",))
    p.add_argument(
        "--train-engine",
        default="auto",
        choices=["auto", "local", "ray"],
        help="Phase 1 in this process, streamed from the store a layer group at a time (local), or as a "
        "Ray Train job whose workers each own a group of layers (ray). auto: ray when joining a cluster "
        "(--address or RAY_ADDRESS) or when the store exceeds NEURONHEAD_TRAIN_MEMORY_GB (default 64), "
        "else local",
    )
    p.add_argument(
        "--train-workers",
        type=int,
        default=2,
        help="Ray Train workers for Phase 1 (engine ray), spread over the cluster's nodes; the layers are "
        "split between them (at most one worker per layer)",
    )


def _fit(args: argparse.Namespace) -> int:
    from neuronhead.fitting.train import FitOptions
    from neuronhead.run.from_data import fit_from_data

    report = fit_from_data(
        args.out,
        data=_training_data(args),
        head=from_flags(HeadOptions, args),
        task=args.task,
        metric=args.metric,
        val_fraction=args.val_fraction,
        options=FitOptions(
            select=select_options(args),
            train_engine=args.train_engine,
            train_workers=args.train_workers,
            address=args.address,
            baselines=args.baselines,
            plots=not args.no_plots,
        ),
    )
    summary = {"head": args.out, "metric": report["metric"], "val": report.get("val"), **report["head"]}
    print(json.dumps(summary))
    return 0


def select_options(args: argparse.Namespace):
    """``--select-on`` and its knobs as :class:`SelectOptions`; ``None`` for ``--select-on none``."""
    from neuronhead.fitting.select import SelectOptions

    if args.select_on == "none":
        return None
    if args.prefer == "cheaper" and args.variant == "ensemble":
        raise ValueError("--prefer cheaper searches heads and probes; --variant ensemble is not one of them")
    variants = (args.variant,) if args.variant else SelectOptions.variants
    return SelectOptions(
        prefer=args.prefer,
        select_on=args.select_on,
        dev_fraction=args.dev_fraction,
        cv_folds=args.cv_folds,
        variants=variants,
    )


def _training_data(args: argparse.Namespace) -> TrainingData:
    """Which features to train on, extracting them first when needed."""
    from neuronhead.run.from_data import TrainingData

    return from_flags(
        TrainingData,
        args,
        extract_options={
            "text_column": args.text_column,
            "label_column": args.label_column,
            "label_kind": args.label_kind,
            "embeddings": getattr(args, "embeddings", False),
            "engine": args.engine,
            "address": args.address,
            # A head on layers 0..K needs no deeper features: extraction stops there too.
            "layers": None if getattr(args, "max_layer", None) is None else f"0-{args.max_layer}",
            **_reading(args),
        },
    )


def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model folder or hub id (default: the bundled MiniLM)")
    p.add_argument("--train", default=None, help="training data (any input `extract` reads)")
    p.add_argument("--val", default=None, help="validation data (fit: default --val-fraction of --train)")
    p.add_argument("--train-split", default="train", help="split of a TweetEval folder or dataset")
    p.add_argument("--val-split", default="val", help="split of a TweetEval folder or dataset")
    _add_reading(p)
    p.add_argument("--features", default=None, help="reuse this extraction of the training data")
    p.add_argument("--val-features", default=None, help="reuse this extraction of the validation data")
    p.add_argument("--cache", default=".neuronhead-cache", help="where extractions are kept and reused")
    add_flags(p, Reading, only=("text_column", "label_column", "label_kind"))
    _add_engine(p, what="extraction")


def _args_tune(p: argparse.ArgumentParser) -> None:
    _add_data_arguments(p)
    from neuronhead.tune.options import TuneEngine, TuneOptions

    p.add_argument("--out", required=True, help="search folder to write (resumes when it exists)")
    add_flags(p, TuneOptions)
    add_flags(p, TuneEngine)


def _tune(args: argparse.Namespace) -> int:
    from neuronhead.run.from_data import features_from_data
    from neuronhead.tune import TuneEngine, TuneOptions, tune_head

    given = str(args.max_concurrent)
    if given != "auto" and not given.isdigit():
        raise ValueError(f"--max-concurrent must be a number or auto, not {given!r}")
    features, val_features = features_from_data(_training_data(args))
    if val_features is None:
        raise ValueError("tuning reports on validation data: give --val or --val-features")
    options = from_flags(TuneOptions, args)
    concurrent = args.max_concurrent if args.max_concurrent == "auto" else int(args.max_concurrent)
    engine = TuneEngine(max_concurrent=concurrent, address=args.address, storage=args.storage)
    summary = tune_head(features, val_features, args.out, options, engine)
    keys = ("metric", "trials", "selected_on", "best", "refits", "default_head", "seconds")
    print(json.dumps({k: summary[k] for k in keys}))
    print(f"leaderboard: {Path(args.out) / 'leaderboard.md'}")
    return 0


def _args_score(p: argparse.ArgumentParser) -> None:
    p.add_argument("--head", action="append", required=True, help="head folder, or NAME=FOLDER; repeatable")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="texts to score (any input `extract` reads)")
    source.add_argument(
        "--follow",
        metavar="DIR",
        help="keep DIR scored: each complete file that arrives is scored once into OUT/NAME/ "
        "(runs until interrupted; the same command resumes)",
    )
    p.add_argument("--out", required=True, help="output folder (shards/, manifest.json, summary.json)")
    p.add_argument("--model", default=None, help="model folder or hub id (default: the heads' model)")
    p.add_argument("--split", default=None, help="split of a TweetEval folder or dataset")
    add_flags(p, Reading, only=("text_column", "id_column"))
    _add_compute(p)
    p.add_argument("--keep-text", action="store_true", help="copy the text into the output")
    p.add_argument(
        "--shard-rows",
        type=int,
        default=None,
        help="rows per output shard, the unit of retry and resume (default 4096)",
    )
    _add_engine(p, actors=True)
    p.add_argument("--force", action="store_true", help="score even if the model is not the heads' model")
    _add_reading(p)
    p.add_argument(
        "--ready",
        default=None,
        choices=["rename", "marker"],
        help="with --follow, when a file is complete: rename (default): once it has its name (temporary "
        "names: .*, _*, *.tmp, *.part, *.partial… are never read); marker: once NAME.done is beside it",
    )
    p.add_argument(
        "--poll",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --follow: seconds between looks (default 5)",
    )
    p.add_argument(
        "--until-idle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="with --follow: stop after SECONDS with nothing new to score (default: run until interrupted)",
    )


def _score(args: argparse.Namespace) -> int:
    from neuronhead.pipelines.headset import HeadSet
    from neuronhead.pipelines.options import Output
    from neuronhead.pipelines.scoring import ScoreOptions, score_with

    reading = _reading_options(args)
    watching = {k: getattr(args, k) for k in ("ready", "poll", "until_idle") if getattr(args, k) is not None}
    if watching and not args.follow:
        raise ValueError(f"--{next(iter(watching)).replace('_', '-')} goes with --follow")
    heads = HeadSet.load(args.head, model=args.model, force=args.force, normalize=reading.normalize)
    options = ScoreOptions(
        reading, _compute(args), _engine(args), Output(shard_rows=args.shard_rows), args.keep_text
    )
    if args.follow:
        from neuronhead.pipelines.follow import FollowOptions, follow

        counts = follow(heads, args.follow, args.out, options, FollowOptions(**watching))
        print(json.dumps(counts))
        return 0
    result = score_with(heads, args.data, args.out, options)
    print(json.dumps(result))
    filtered = f", {result['filtered']} filtered" if result["filtered"] else ""
    counts = f"scored {result['scored']} rows, {result['errors']} errors{filtered}, {result['rows_in']} in"
    print(f"{counts} → {args.out}")
    return 0


def _args_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--head", required=True, help="head folder written by `neuronhead fit`")
    p.add_argument("--data", default=None, help="labelled data (any input `extract` reads)")
    p.add_argument("--split", default="val", help="split of a TweetEval folder or dataset")
    p.add_argument("--features", default=None, help="or: an extraction of the data with the head's model")
    p.add_argument("--cache", default=".neuronhead-cache", help="where extractions are kept and reused")
    add_flags(p, Reading, only=("text_column", "label_column"))
    _add_engine(p, what="extraction")


def _evaluate(args: argparse.Namespace) -> int:
    from neuronhead.run.from_data import evaluate_from_data

    result = evaluate_from_data(
        args.head,
        data=args.data,
        split=args.split,
        features=args.features,
        cache=args.cache,
        extract_options={
            "text_column": args.text_column,
            "label_column": args.label_column,
            "engine": args.engine,
            "address": args.address,
        },
    )
    print(json.dumps(result, indent=2))
    return 0


def _args_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("--head", action="append", required=True, help="[NAME=]head folder; repeat for several")
    p.add_argument("--out", required=True, help="new folder for the bundle")
    p.add_argument("--model", default=None, help="model folder to take the blocks from (default: the heads')")
    p.add_argument("--force", action="store_true", help="export even if the model is not the heads' model")


def _export(args: argparse.Namespace) -> int:
    from neuronhead.pipelines.bundle import export_bundle
    from neuronhead.pipelines.headset import HeadSet

    record = export_bundle(HeadSet.load(args.head, model=args.model, force=args.force), args.out)
    size = sum(f.stat().st_size for f in Path(args.out).rglob("*") if f.is_file())
    heads, blocks = ", ".join(record.heads), f"blocks 0..{record.depth - 1}"
    print(f"bundle: {args.out} ({heads}; {blocks}; {size / 2**20:.1f} MiB)")
    return 0


def _args_serve(p: argparse.ArgumentParser) -> None:
    from neuronhead.serve.options import Batching, Ingress, Limits, LocalRay, Serving

    p.add_argument("--head", action="append", required=True, help="[NAME=]head folder or bundle; repeatable")
    p.add_argument("--model", default=None, help="model folder (default: the heads')")
    p.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray on 127.0.0.1)")
    for group in (Serving, Ingress, Batching, Limits, LocalRay):
        add_flags(p, group)


def _serve(args: argparse.Namespace) -> int:
    from neuronhead.serve.options import Batching, Ingress, Limits, LocalRay, Serving
    from neuronhead.serve.server import metrics_url, serve_until_interrupted, start, stop_on_signals

    stop_on_signals()
    try:
        url = start(
            args.head,
            args.model,
            args.address,
            limits=from_flags(Limits, args),
            batching=from_flags(Batching, args),
            serving=from_flags(Serving, args),
            ingress=from_flags(Ingress, args),
            local=from_flags(LocalRay, args),
        )
    except KeyboardInterrupt:
        print("neuronhead serve: stopped before the endpoint was up", file=sys.stderr)
        return 130
    metrics = metrics_url()
    if metrics:
        print(f"Prometheus metrics of this node at {metrics}", flush=True)
    serve_until_interrupted(url, args.head, args.address)
    return 0


def _args_explain(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--head", action="append", required=True, help="[NAME=]head folder or bundle; repeat for several"
    )
    p.add_argument("--text", action="append", required=True, help="the text to explain; repeat for several")
    p.add_argument("--top", type=int, default=10, help="neurons to list per head (at least 1)")
    p.add_argument("--model", default=None, help="model folder (default: the one the heads recorded)")
    p.add_argument("--json", action="store_true", help="print JSON lines (one per text) instead of tables")


def _explain(args: argparse.Namespace) -> int:
    import json

    from neuronhead.heads.explain import check_top, explanation_lines
    from neuronhead.pipelines.predictor import Predictor

    check_top(args.top)  # before the model loads
    predictor = Predictor.load(args.head, model=args.model)
    for text in args.text:
        found = predictor.explanations(text, top=args.top)
        if args.json:
            print(json.dumps({"text": text, "heads": found}, ensure_ascii=False))
            continue
        print(f"text: {text}")
        for name, record in found.items():
            print("\n".join(explanation_lines(name, record)))
    return 0


def _args_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="TOML or YAML file of the options below")
    _add_config_flags(p)
    _add_engine(p, default=None, what="extraction and scoring")


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per ``RunConfig`` field, the head's in a group of their own; every default is ``None``
    so that only flags given override the config file."""
    import dataclasses

    from neuronhead.run.config import RunConfig

    head = [f.name for f in dataclasses.fields(HeadOptions)]
    add_flags(p, RunConfig, skip=head, unset_default=True)
    add_flags(p.add_argument_group("the head (as for `fit`)"), HeadOptions, unset_default=True)


def _run(args: argparse.Namespace) -> int:
    from neuronhead.run.config import FIELDS, read_config_file, resolve_config
    from neuronhead.run.job import run

    file_options = read_config_file(args.config) if args.config else {}
    cli = {k: v for k, v in vars(args).items() if k in FIELDS}
    summary = run(resolve_config(file_options, cli))
    print(json.dumps(summary))
    print(f"report: {summary['report']} (and report.md beside it)")
    return 0


def _args_analyze(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scores", required=True, help="output folder of `neuronhead score`")
    p.add_argument("--out", required=True, help="folder for the tables, plots and summary.json")
    from neuronhead.analyze.options import AnalyzeOptions

    add_flags(p, AnalyzeOptions)
    _add_engine(p, what="reading the scores")


def _analyze(args: argparse.Namespace) -> int:
    from neuronhead.analyze import AnalyzeOptions, analyze

    summary = analyze(args.scores, args.out, from_flags(AnalyzeOptions, args), engine=_engine(args))
    print(json.dumps(summary))
    return 0


@dataclass(frozen=True)
class Command:
    """One subcommand: the flags it adds, the function it calls, and its help."""

    add_arguments: Callable[[argparse.ArgumentParser], None]
    call: Callable[[argparse.Namespace], int]
    help: str
    description: str | None = None


COMMANDS = {
    "run": Command(
        _args_run,
        _run,
        help="the main job: extract → head (or a search) → evaluate → score → report",
        description="Labelled texts to a trained, evaluated head, scored output and a report "
        "(OUT/report.html, OUT/report.md). Every stage is recorded in OUT/run.json; rerun with the same "
        "--out to reuse what is done. Options can come from --config (TOML or YAML, same names); the "
        "command line overrides the file.",
    ),
    "extract": Command(
        _args_extract,
        _extract,
        help="pooled FFN activations of a text collection → Parquet feature folder",
        description="Extract mean- and max-pooled post-activation FFN features per text.",
    ),
    "fit": Command(
        _args_fit,
        _fit,
        help="train the two-phase neuron head (extracting features first, with a cache)",
        description="Phase 1 probes per layer → salient neurons → Phase 2 dense head. Writes a head folder "
        "(head.safetensors + head.json), report.json, ranking.csv and plots/.",
    ),
    "tune": Command(
        _args_tune,
        _tune,
        help="search salient fraction, Phase-2 width, depth and regularisation (Ray Tune + Optuna)",
        description="TPE search with ASHA over the head's knobs on one cached extraction; Phase 1 is fitted "
        "once and shared. Writes leaderboard.csv/.md, pareto.csv, best-head/, pareto/layer-K/, plots/ and "
        "summary.json. Rerun with the same --out to resume.",
    ),
    "score": Command(
        _args_score,
        _score,
        help="score texts with one or more heads (one forward pass, only the layers they need)",
        description="Runs the model only up to the deepest layer any head needs and writes Parquet shards "
        "with id, {head}_label, {head}_label_id, {head}_scores and error for every input row. Rerun with "
        "the same --out to resume. Ends by printing the counts (also in OUT/summary.json).",
    ),
    "evaluate": Command(
        _args_evaluate,
        _evaluate,
        help="metrics of a saved head on labelled data (prints JSON)",
        description="Score a head folder on labelled data or on an extraction of it; prints JSON metrics.",
    ),
    "export": Command(
        _args_export,
        _export,
        help="one folder with the heads, the model blocks they need, the tokenizer and config",
        description="Writes a bundle that `neuronhead.load(DIR)` and `neuronhead score --head DIR` use "
        "without the original model folder: the heads, blocks 0..k (safetensors), the tokenizer, the config "
        "and bundle.json with every file's sha256 and its own (a bundle whose files do not match is "
        "refused). No file of it names a path of the exporting machine.",
    ),
    "serve": Command(
        _args_serve,
        _serve,
        help="an HTTP endpoint for heads on Ray Serve (POST /predict, GET /heads, GET /healthz)",
        description="Deploys the heads on Ray Serve and blocks until Ctrl-C. Texts of concurrent requests "
        "are batched into one forward pass for every head. Binds 127.0.0.1 unless --host says otherwise; "
        "without --address it starts a local Ray (dashboard off). Bad requests get 400 (not JSON or not "
        "UTF-8, or nested too deeply), 413 (over --max-body-bytes or --max-texts) or 422 (wrong shape), with "
        "the reason; with --api-key-file, a request without the key gets 401. A request whose model "
        "replica dies is sent to another (--retries).",
    ),
    "explain": Command(
        _args_explain,
        _explain,
        help="which salient neurons moved a head's decision for a text, and where they were active",
        description="For each text and head: the predicted label, its logit split over the head's salient "
        "neurons L<layer>.N<index> (exact for linear heads; integrated gradients from the training mean "
        "for dense ones, with the sum's residual), each neuron's pooled mean and max, and the tokens of its "
        "highest activations; the other neurons' shares together, the residual and the baseline complete "
        "the sum to the output.",
    ),
    "analyze": Command(
        _args_analyze,
        _analyze,
        help="label shares of scored tweets over time and by language, hashtag or author",
        description="Reads a `neuronhead score` folder with Ray Data and writes, per head, each label's "
        "share (regression heads: the mean) per time bucket and group with 95% confidence intervals "
        "(shares.parquet/.csv, means.parquet/.csv), the top hashtags per label (top_hashtags.*), "
        "time-series plots (plots/*.png) and summary.json, which accounts for every row.",
    ),
}


class _ShowDefaults(argparse.HelpFormatter):
    """Every flag's help states its default, unless it has none or says it already (the spine's
    flags write theirs, with what ``None`` stands for)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            not action.option_strings
            or "default" in text
            or action.default in (None, False, argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: %(default)s)".lstrip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuronhead", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        p = sub.add_parser(
            name, help=command.help, description=command.description, formatter_class=_ShowDefaults
        )
        command.add_arguments(p)
        p.set_defaults(func=command.call)
        p.add_argument(
            "--verbose",
            action="store_true",
            help="also print Ray's own log lines and its workers' output (otherwise kept in the Ray "
            "session's logs/ folder); same as NEURONHEAD_VERBOSE=1",
        )
    return parser


def _version() -> str:
    from neuronhead.version import __version__

    return f"neuronhead {__version__}"


def starts_ray_early(args: argparse.Namespace) -> bool:
    """Whether this command starts Ray before its imports (``cluster/early.py``)."""
    return args.command in EARLY_RAY_COMMANDS and uses_ray(args.engine, args.address)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        os.environ[VERBOSE] = "1"
    try:
        if starts_ray_early(args):
            start_ray_early(args.address, RAY_COMMAND_IMPORTS)
        return args.func(args)
    except (ValueError, OSError, NotImplementedError) as exc:  # OSError: disk full, read-only, missing
        print(f"neuronhead {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # finished shards and stages are on disk; the same command resumes
        print(f"\nneuronhead {args.command}: interrupted; run it again to resume", file=sys.stderr)
        return 130


def entry() -> None:
    """The console script: ``main``, then exit without tearing the interpreter down.

    With torch and transformers loaded, Python's finalization takes longer than some whole stages
    of the demo job (docs/decisions.md). By then every output is written, fsynced and closed, so the
    exit handlers (Ray's shutdown, logging's flush) run and the process ends. Where a non-daemon
    thread is still alive, the normal exit waits for it instead.
    """
    code = main()
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized() and not verbose():
        ray.shutdown()  # at exit Ray would first wait for its workers' log lines, which go to files here
    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
