"""The commands that start from raw data: extract what is missing (cached), then fit or evaluate.

They sit above both ``heads`` and ``pipelines`` so that neither imports the other.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuronhead.fitting.train import FitOptions, evaluate_head, fit_head
from neuronhead.heads.artifact import read_head_info
from neuronhead.heads.options import HeadOptions
from neuronhead.models.loading import resolve_model_path, weights_hash
from neuronhead.models.tokens import MAX_LENGTH
from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.fingerprint import StaleFolder
from neuronhead.pipelines.options import grouped
from neuronhead.store import read_features_manifest


def cached_extraction(
    data: str | os.PathLike,
    cache: str | os.PathLike,
    *,
    model: str | None,
    split: str | None,
    **options: Any,
) -> Path:
    """Extract ``data`` once into ``cache`` (keyed by data, split, model and options); reuse after.

    The entry is the cache's own: when the input's content changed since it was made, it is replaced
    (an identical file written again keeps it: extractions are keyed on content, not mtime).
    """
    spec = str(data)
    if "://" not in spec and not spec.startswith("hf:"):
        spec = str(Path(spec).resolve())
    key = json.dumps({"data": spec, "split": split, "model": model, **options}, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    out = Path(cache) / f"{Path(spec).name or 'data'}-{split or 'all'}-{digest}"
    try:
        extract(data, out, model=model, **grouped(split=split, **options))
    except StaleFolder:
        print(f"{out}: the input changed since this cache entry was made; extracting it again")
        shutil.rmtree(out)
        extract(data, out, model=model, **grouped(split=split, **options))
    return out


@dataclass(frozen=True)
class TrainingData:
    """Which features a head trains (and is validated) on: stores given as ``features`` and
    ``val_features``, or labelled data to extract first (``train``/``val``, cached in ``cache``)."""

    model: str | None = None
    train: str | os.PathLike | None = None
    val: str | os.PathLike | None = None
    train_split: str | None = "train"
    val_split: str | None = "val"
    features: str | os.PathLike | None = None
    val_features: str | os.PathLike | None = None
    cache: str | os.PathLike = ".neuronhead-cache"
    extract_options: dict[str, Any] | None = None  # flat `extract` options (see pipelines.options)


def features_from_data(data: TrainingData) -> tuple[Path, Path | None]:
    """Extract what is not given as features (cached); validation the same way as training."""
    model, features, val_features = data.model, data.features, data.val_features
    opts = {k: v for k, v in (data.extract_options or {}).items() if v not in (None, False)}
    if features is None:
        if data.train is None:
            raise ValueError("give --train (data) or --features (an extraction of it)")
        features = cached_extraction(data.train, data.cache, model=model, split=data.train_split, **opts)
    manifest = read_features_manifest(features)
    if model is not None and weights_hash(resolve_model_path(model)) != manifest.model.weights_sha256:
        raise ValueError(f"{features} was extracted with another model than --model {model}")
    if val_features is None and data.val is not None:
        val_opts = {k: v for k, v in opts.items() if k != "layers"}  # the training features' layers
        if manifest.label_kind:
            val_opts["label_kind"] = manifest.label_kind
        if manifest.label_names:
            val_opts["label_names"] = manifest.label_names
        val_features = cached_extraction(
            data.val,
            data.cache,
            model=manifest.model.path,
            split=data.val_split,
            layers=manifest.layers,
            max_length=manifest.max_length,
            pool_special_tokens=manifest.pool_special_tokens,
            **val_opts,
        )
    return Path(features), None if val_features is None else Path(val_features)


def fit_from_data(
    out: str | os.PathLike,
    *,
    data: TrainingData = TrainingData(),
    head: HeadOptions = HeadOptions(),
    task: str | None = None,
    metric: str | None = None,
    val_fraction: float = 0.1,
    options: FitOptions = FitOptions(),
) -> dict[str, Any]:
    """``neuronhead fit``: :func:`features_from_data`, then :func:`fit_head` with the head's options."""
    features, val_features = features_from_data(data)
    return fit_head(
        features,
        out,
        val_features=val_features,
        val_fraction=0.0 if val_features else val_fraction,
        task=task,
        metric=metric,
        params=head,
        options=options,
    )


def evaluate_from_data(
    head_folder: str | os.PathLike,
    *,
    data: str | os.PathLike | None = None,
    split: str | None = "val",
    features: str | os.PathLike | None = None,
    cache: str | os.PathLike = ".neuronhead-cache",
    extract_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``neuronhead evaluate``: extract ``data`` the way the head's features were made, then score."""
    if features is None:
        if data is None:
            raise ValueError("give --data or --features")
        info = read_head_info(head_folder)
        opts = {k: v for k, v in (extract_options or {}).items() if v not in (None, False)}
        ext = info.extraction
        if info.label_names:
            opts["label_names"] = info.label_names
        if info.task == "regression":
            opts["label_kind"] = "value"
        features = cached_extraction(
            data,
            cache,
            model=info.model.path,
            split=split,
            layers=list(range(info.deepest_layer + 1)),
            max_length=ext.max_length or MAX_LENGTH,
            pool_special_tokens=ext.pool_special_tokens,
            **({"normalize": ext.normalize} | opts),
        )
    return evaluate_head(head_folder, features)
