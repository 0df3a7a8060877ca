"""A feature folder as training data: labels in memory, features read from the store when asked.

Every step of ``fit`` after extraction goes through a :class:`StoreSet`, so no step holds every
column of every row:

- Phase 1 streams a layer group at a time (:func:`~neuronhead.fitting.stream.fit_probes_streamed`);
- a head's Phase 2 trains on the salient neurons alone, gathered once (rows × Σ salient);
- a layer's probe and the all-layer probe score, and the all-layer probe trains, chunk by chunk.

Row subsets (selection's fit and held-out parts) are boolean masks over :attr:`rows`, in store order.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from neuronhead.fitting.stream import (
    StoreRows,
    StreamOptions,
    fit_flat_probe,
    fit_probes_streamed,
    gather,
    layer_width,
    read_column,
    stream_decision,
    stream_layer_decisions,
)
from neuronhead.heads.ensemble import EnsembleHead
from neuronhead.heads.head import NeuronHead, Phase2Options
from neuronhead.heads.phase1 import Gathered, LayerProbes
from neuronhead.store import read_features_manifest


class StoreSet:
    """The featured rows of one feature folder; ``options`` bound what one pass holds."""

    def __init__(
        self,
        folder: str | os.PathLike,
        task: str = "classification",
        options: StreamOptions | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.options = options or StreamOptions()
        self.manifest = read_features_manifest(folder)
        self.layers = list(self.manifest.layers)
        self.rows, labels = StoreRows(folder).targets()
        self.y = labels.astype(np.float64 if task == "regression" else np.int64)
        self.width = layer_width(folder, self.layers[0])
        self._whole = True  # every featured row of the folder (no filter needed when reading)

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, mask: np.ndarray) -> StoreSet:
        """The same folder restricted to the rows of ``mask`` (e.g. a validation slice of train)."""
        other = copy.copy(self)
        other.rows, other.y, other._whole = self.rows[mask], self.y[mask], False
        return other

    def part(self, mask: np.ndarray | None = None) -> StoreRows:
        if mask is None:
            return StoreRows(self.folder, None if self._whole else self.rows)
        return StoreRows(self.folder, self.rows[mask])

    def layer_decisions(self, probes: LayerProbes) -> np.ndarray:
        """Each layer's Phase-1 probe outputs ``(rows, layers, outputs)``."""
        return stream_layer_decisions(self.part(), probes, self.options)

    def column(self, name: str) -> np.ndarray:
        """A sentence-embedding column of every row, float32."""
        return read_column(self.part(), name, self.options)

    def fit_probes(
        self, probes: LayerProbes, mask=None, label_names: Sequence[str] | None = None, progress=False
    ) -> LayerProbes:
        return fit_probes_streamed(
            self.part(mask), probes, self.options, label_names=label_names, progress=progress
        )

    def gather(self, neurons: Mapping[int, np.ndarray], mask=None) -> Gathered:
        """``neurons`` by layer *position*; the rows of ``mask``, in store order."""
        by_layer = {self.layers[p]: np.asarray(ids) for p, ids in neurons.items()}
        return gather(self.part(mask), by_layer, self.options)[2]

    def fit_head(
        self,
        head: NeuronHead,
        probes: LayerProbes,
        mask=None,
        label_names: Sequence[str] | None = None,
        gathered: Gathered | None = None,
    ) -> NeuronHead:
        """Fit ``head`` on Phase 1 ``probes`` (fitted on the same rows), reading what its kind needs.

        ``gathered`` may hold a superset of the head's neurons for the rows of ``mask`` (selection
        gathers the salient neurons once for all its heads).
        """
        if isinstance(head, EnsembleHead):  # each member as itself, on the one Phase 1
            members = [self.fit_head(m, probes, mask, label_names) for m in head.member_heads()]
            return head.adopt(members)
        y = self.y if mask is None else self.y[mask]
        rows = self.rows if mask is None else self.rows[mask]
        fit = {"layers": self.layers, "label_names": label_names, "probes": probes}
        if head.variant == "probe":  # a layer's Phase-1 probe: nothing to read
            return head.fit(Gathered({}, len(y)), y, rows, **fit)
        if is_all_layer(head):
            params = head.linear_params() | {"label_names": list(label_names) if label_names else None}
            keep = head.planned_neurons(probes, self.layers)
            used = [self.layers[p] for p in sorted(keep)]
            flat = fit_flat_probe(self.part(mask), probes, params, self.options, layers=used)
            return head.fit(Gathered({}, len(y)), y, rows, linear=flat, **fit)
        if gathered is None:
            gathered = self.gather(head.planned_neurons(probes, self.layers), mask)
        return head.fit(gathered, y, rows, phase2=Phase2Options(self.options.phase2_bytes), **fit)

    def decision(self, head: NeuronHead, mask=None, gathered: Gathered | None = None) -> np.ndarray:
        """Raw outputs for the rows of ``mask``: from ``gathered`` columns when they hold the head's
        neurons, else streamed from the store, only the layers the head reads."""
        if gathered is not None and not reads_whole_layers(head):
            return head.decision(gathered, self.layers)
        return stream_decision(self.part(mask), head, self.options)

    def predict(self, head: NeuronHead, mask=None, gathered: Gathered | None = None) -> np.ndarray:
        return head.predict_from_decision(self.decision(head, mask, gathered))


def is_all_layer(head: NeuronHead) -> bool:
    """A linear head on every neuron of its layers: trained streamed, never gathered."""
    return head.variant == "values" and head.width == 0 and head.salient_fraction == 1.0


def reads_whole_layers(head: NeuronHead) -> bool:
    """Heads scored from every neuron of their layers (an ensemble holds the all-layer probe)."""
    return head.variant in ("probe", "ensemble") or is_all_layer(head)
