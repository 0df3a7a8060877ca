"""What a search reads, made once before any trial: the features decoded and Phase 1 fitted.

The features are decoded into memory-mapped files that every trial maps (search rows first, dev rows
last), and Phase 1 is fitted once on the search rows (and once on every row, for the refits) and
saved in the search folder, so a resumed search reuses both.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from neuronhead.fitting.mapped import MappedFeatures, decode_store
from neuronhead.fitting.probes_store import load_probes, read_probes_info, save_probes
from neuronhead.fitting.select import SelectOptions, selection_parts
from neuronhead.fitting.storeset import StoreSet
from neuronhead.fitting.train import check_same_extraction, metric_of, task_of
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.phase1 import LayerProbes
from neuronhead.store import read_features_manifest
from neuronhead.tune.options import TuneOptions
from neuronhead.tune.trial import TrialData

PHASE2_BYTES = 2**28  # a trial's Phase-2 inputs past 256 MiB are made per batch (wide selections)


@dataclass
class SearchInputs:
    """The decoded features and shared Phase 1 of one search; rows ``[:n_search]`` train the trials."""

    features: str | os.PathLike  # the training features' folder, as given
    manifest: dict[str, Any]
    task: str
    metric: str
    label_names: list[str] | None
    X: MappedFeatures  # search rows first, dev rows last
    rows: np.ndarray
    y: np.ndarray
    Xv: MappedFeatures
    yv: np.ndarray
    n_search: int
    probes: LayerProbes  # Phase 1 on the search rows: what the trials build on
    full_probes: LayerProbes  # Phase 1 on every training row: what the refits build on
    phase1_reused: bool
    load_s: float
    phase1_s: float

    @property
    def layers(self) -> list[int]:
        return list(self.manifest.layers)

    def trial_data(self, select_on: str, threads: int) -> TrialData:
        """What a trial reads: the search rows to train on, scored on dev (or on val)."""
        n = self.n_search
        scored_on = (self.X.rows(n), self.y[n:]) if select_on == "dev" else (self.Xv, self.yv)
        return TrialData(
            X=self.X.rows(0, n),
            y=self.y[:n],
            rows=self.rows[:n],
            Xv=scored_on[0],
            yv=scored_on[1],
            layers=self.layers,
            label_names=self.label_names,
            probes=self.probes,
            task=self.task,
            metric=self.metric,
            head_defaults=head_defaults(0),
            threads=threads,
            phase2_bytes=PHASE2_BYTES,
        )

    def refit_data(self, trial_data: TrialData) -> TrialData:
        """``trial_data`` on every training row and Phase 1, scored on val: what the chosen heads refit on."""
        return replace(
            trial_data, X=self.X, y=self.y, rows=self.rows, Xv=self.Xv, yv=self.yv, probes=self.full_probes
        )


def head_defaults(seed: int) -> dict[str, Any]:
    """The default head's parameters, less those the search fixes: trial 0 is this head."""
    params = NeuronHead().get_params()
    params.pop("task")
    params.pop("probe_params")
    return params | {"seed": seed}


def prepare_inputs(
    features: str | os.PathLike,
    val_features: str | os.PathLike,
    out: Path,
    options: TuneOptions,
    progress: bool,
) -> SearchInputs:
    """Check the two extractions match, decode both, and fit (or reuse) the shared Phase 1."""
    manifest = read_features_manifest(features)
    task = task_of(manifest, options.task)
    metric = metric_of(manifest, task, options.metric)
    check_same_extraction(manifest, val_features)
    label_names = manifest.label_names if task == "classification" else None
    t0 = time.perf_counter()
    tr, va = StoreSet(features, task), StoreSet(val_features, task)
    dev = _dev_rows(tr, options)
    ytype = np.float64 if task == "regression" else np.int64
    order = np.concatenate([np.flatnonzero(~dev), np.flatnonzero(dev)])
    X, rows, y = decode_store(tr.part(), out / "features" / "train.f16", order, tr.options, progress)
    Xv, _, yv = decode_store(va.part(), out / "features" / "val.f16", None, va.options, progress)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    phase1 = {"task": task, "metric": metric, "label_names": label_names, "progress": progress}
    on = f"{features}|{options.select_on}|{options.dev_fraction}"
    probes, reused = shared_phase1(out / "phase1", tr, ~dev if dev.any() else None, features=on, **phase1)
    full_probes = probes
    if options.select_on == "dev":  # the refits train on every row: Phase 1 too
        full_probes, _ = shared_phase1(out / "phase1-full", tr, None, features=str(features), **phase1)
    return SearchInputs(
        features=features,
        manifest=manifest,
        task=task,
        metric=metric,
        label_names=label_names,
        X=X,
        rows=rows,
        y=y.astype(ytype),
        Xv=Xv,
        yv=yv.astype(ytype),
        n_search=int((~dev).sum()),
        probes=probes,
        full_probes=full_probes,
        phase1_reused=reused,
        load_s=load_s,
        phase1_s=time.perf_counter() - t0,
    )


def _dev_rows(tr: StoreSet, options: TuneOptions) -> np.ndarray:
    """Which training rows score the trials (none when they are scored on val)."""
    if options.select_on != "dev":
        return np.zeros(len(tr), bool)
    return selection_parts(tr.rows, SelectOptions(select_on="dev", dev_fraction=options.dev_fraction))[0]


def shared_phase1(
    folder: Path,
    data: StoreSet,
    mask: np.ndarray | None,
    *,
    task: str,
    metric: str,
    label_names: list[str] | None,
    features: str,
    progress: bool,
):
    """Fit Phase 1 once, streamed from the store on the rows of ``mask``, or reuse the one a previous
    run of this search saved."""
    key = {"features": str(Path(features).resolve()), "task": task, "metric": metric}
    info = read_probes_info(folder)
    if info is not None and info.get("key") == key:
        return load_probes(folder), True
    head = NeuronHead(task, progress=progress)
    probes = head.make_probes()
    if task == "classification":
        probes.select = metric
    probes = data.fit_probes(probes, mask=mask, label_names=label_names, progress=progress)
    save_probes(probes, folder, {"key": key})
    return probes, False
