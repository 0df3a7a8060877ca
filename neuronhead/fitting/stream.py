"""Phase 1 streamed from the feature store, a group of layers at a time.

The in-memory fit (:meth:`LayerProbes.fit`) holds every row of every layer. Here a layer group's two
columns per layer are read shard by shard (:func:`neuronhead.store.iter_columns`), so memory is bounded
by ``chunk_rows`` × the group's width, whatever the number of rows:

1. one pass over the ``row``/``label`` columns: targets, class weights, fold of each row;
2. per group, its columns decoded once: cached (standardized in float32, then trained on the batches
   of the in-memory fit, so the probes are the same) or spilled to a memory-mapped temp file (epochs
   of shards in an order drawn from ``(seed, epoch)``, rows shuffled within each chunk);
3. each group's result is joined along the layer axis into one :class:`LayerProbes`.

Layers are independent in Phase 1 (one probe per layer, per-parameter Adam), so grouping changes
nothing but when training stops: a group stops when all its probes have stopped improving, where
the all-layer loop ran until the last layer had.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm.auto import tqdm

from neuronhead.heads.phase1 import Gathered, LayerProbes, grid_scores
from neuronhead.heads.probes import ProbeResult, ProbeTrainer, batches, split_of
from neuronhead.heads.standardize import Standardizer
from neuronhead.store import (
    check_shards,
    feature_columns,
    iter_columns,
    list_values,
    read_features_manifest,
    table_features,
)


@dataclass(frozen=True)
class StreamOptions:
    """How much of the store one process holds.

    A layer group's columns are read ``chunk_rows`` rows at a time and decoded once. When the group's
    float16 values fit ``cache_gb`` they are kept in memory (standardized in float32 for training: twice
    ``cache_gb`` at most) and trained in the in-memory fit's batch order; otherwise they are spilled to
    an unlinked raw float16 file in ``spill_dir`` (the system's temp folder by default) that every
    later pass maps, so a pass costs a read of the page cache or disk, not a Parquet decode.
    """

    chunk_rows: int = 2048
    cache_gb: float = 0.5
    layers_per_group: int | None = None  # None: as many as ``cache_gb`` caches for every row
    spill_dir: str | None = None

    def groups(
        self, layers: Sequence[int], width: int, n_rows: int, batch_rows: int = 512
    ) -> list[list[int]]:
        """As many layers per group as ``cache_gb`` holds for every row in float16, and as a training
        batch of ``batch_rows`` holds in float32 three times over (the batch, its copy for the matrix
        product, the gradient): wide layers with few rows would otherwise make huge batches."""
        per_layer = n_rows * 2 * width * 2
        by_batch = int(self.cache_gb * 2**30 // (batch_rows * 2 * width * 4 * 3))
        n = self.layers_per_group or max(1, min(int(self.cache_gb * 2**30 // per_layer), by_batch))
        layers = list(layers)
        return [layers[i : i + n] for i in range(0, len(layers), n)]

    @property
    def phase2_bytes(self) -> int:
        """Past this size a dense head's float32 inputs are made per batch, not held for every row."""
        return int(self.cache_gb * 2**30)

    def caches(self, n_layers: int, width: int, n_rows: int) -> bool:
        return n_rows * n_layers * 2 * width * 2 <= self.cache_gb * 2**30

    def spanning(self, n_layers: int, width: int) -> StreamOptions:
        """These options with chunks of :meth:`rows_for` rows."""
        return replace(self, chunk_rows=self.rows_for(n_layers, width))

    def rows_for(self, n_layers: int, width: int) -> int:
        """Rows per chunk when a chunk spans ``n_layers`` whole layers (all-layer probe, scoring):
        ``chunk_rows``, fewer when float32 copies of that many rows would pass ``cache_gb``."""
        per_row = n_layers * 2 * width * 4 * 3
        return int(max(16, min(self.chunk_rows, self.cache_gb * 2**30 // per_row)))


Chunk = tuple[np.ndarray, np.ndarray, np.ndarray]  # row, label, X (rows, layers, 2, width) float16


@dataclass(frozen=True)
class StoreRows:
    """The featured rows of a store, and which of them a fit trains on (``train``: row numbers)."""

    folder: str | os.PathLike
    train: np.ndarray | None = None  # None: every featured row

    def shards(self, layers: Sequence[int], options: StreamOptions) -> Iterator[Iterator[Chunk]]:
        """Per shard (in store order), its chunks of ``layers``."""
        columns = ["row", "label", *feature_columns(list(layers))]
        for path in check_shards(self.folder):
            yield self._chunks(iter_columns([path], columns, options.chunk_rows), layers)

    def _chunks(self, batches, layers) -> Iterator[Chunk]:
        for batch in batches:
            table = pa.Table.from_batches([batch])
            row = table["row"].to_numpy()
            keep = self.keeps(row)
            if keep.any():
                label = table["label"].to_numpy(zero_copy_only=False)
                X = table_features(table, list(layers), np.float16)
                yield row[keep], label[keep], X[keep]

    def keeps(self, row: np.ndarray) -> np.ndarray:
        """Which of these row numbers the fit trains on."""
        return np.ones(len(row), bool) if self.train is None else np.isin(row, self.train)

    def targets(self) -> tuple[np.ndarray, np.ndarray]:
        """Row numbers and labels of the rows a fit trains on, in store order."""
        rows, labels = [], []
        for batch in iter_columns(check_shards(self.folder), ["row", "label"], 65536):
            row = batch.column("row").to_numpy()
            keep = self.keeps(row)
            rows.append(row[keep])
            labels.append(batch.column("label").to_numpy(zero_copy_only=False)[keep])
        if not rows or not sum(len(r) for r in rows):
            raise ValueError(f"{self.folder}: no featured rows to train on")
        return np.concatenate(rows), np.concatenate(labels)


class GroupData:
    """One layer group's rows, decoded from the store once.

    ``cache``: held in memory as one ``(rows, layers, 2, width)`` float16 array in store order, so
    training draws batches from a permutation of *all* rows, exactly as the in-memory
    :meth:`LayerProbes.fit` does (same answers). Otherwise spilled to a raw float16 file that every
    pass maps; the file is unlinked as soon as it is opened, so it disappears with the process, even a
    killed one. Spilled passes shuffle shards, then rows within each chunk.
    """

    def __init__(
        self,
        source: StoreRows,
        layers: Sequence[int],
        options: StreamOptions,
        cache: bool,
        n_rows: int | None = None,
    ):
        self.layers, self.spilled = list(layers), not cache
        self.X: np.ndarray | None = None  # cached float16 values, until standardize()
        self.Z: np.ndarray | None = None  # cached standardized float32 values
        shards = source.shards(self.layers, options)
        if cache:
            self.row, self.label, self.X, self.shards = _cached(shards, n_rows)
        else:
            self.shards = _spilled(shards, options.spill_dir)

    def passes(self, rng: np.random.Generator | None = None) -> Iterator[Chunk]:
        """Every chunk once; with ``rng``, shards in an order drawn from it (chunks keep theirs)."""
        order = range(len(self.shards)) if rng is None else rng.permutation(len(self.shards))
        for i in order:
            yield from self.shards[i]

    def standardize(self, std: Standardizer) -> None:
        """A cached group becomes its standardized float32 values ``(rows, layers, 2 × width)``, as
        :meth:`LayerProbes.fit` prepares its matrix (same operations, 4,096 rows at a time), so every
        batch is a plain gather. The float16 copy is dropped: twice its size is held from here on."""
        if self.X is None:
            raise ValueError("only a cached group is standardized in memory")
        n, L = len(self.X), len(std.mean_)  # L = 1 for the all-layer probe: every layer side by side
        mean = torch.from_numpy(std.mean_.reshape(L, -1))
        scale = torch.from_numpy(std.scale_.reshape(L, -1))
        Z = np.empty((n, L, mean.shape[1]), np.float32)
        # The same elementwise operations in place, on blocks of at most 4,096 rows and 128 MiB of
        # float32 (4,000 rows of five GPT2-XL-wide layers are 1 GiB, and (x - mean) / scale made two
        # more copies: the 4 GiB cap was hit here).
        step = max(1, min(4096, 2**27 // (4 * L * mean.shape[1])))
        for i in range(0, n, step):
            x = torch.from_numpy(Z[i : i + step]).view(-1, L, mean.shape[1])
            x.copy_(torch.from_numpy(np.ascontiguousarray(self.X[i : i + step])).reshape(len(x), L, -1))
            x.sub_(mean).div_(scale)
        starts = np.cumsum([0] + [len(c[0]) for shard in self.shards for c in shard])
        views, k = [], 0
        for shard in self.shards:
            views.append([])
            for row, label, _ in shard:
                views[-1].append((row, label, Z[starts[k] : starts[k + 1]]))
                k += 1
        self.X, self.Z, self.shards = None, Z, views


def _cached(shards: Iterator[Iterator[Chunk]], n_rows: int | None):
    """Rows, labels and values of every chunk as three arrays, and the chunks as views of them."""
    chunks = [list(s) for s in shards] if n_rows is None else None
    if chunks is not None:
        n_rows = sum(len(c[0]) for s in chunks for c in s)
    parts: list[list[tuple[int, int]]] = []
    row = label = X = None
    at = 0
    for shard in chunks if chunks is not None else shards:
        parts.append([])
        for r, lab, x in shard:
            if X is None:
                X = np.empty((n_rows, *x.shape[1:]), np.float16)
                row, label = np.empty(n_rows, r.dtype), np.empty(n_rows, lab.dtype)
            row[at : at + len(r)], label[at : at + len(r)], X[at : at + len(r)] = r, lab, x
            parts[-1].append((at, at + len(r)))
            at += len(r)
    if X is None or at != n_rows:
        raise ValueError(f"expected {n_rows} featured rows, read {at}")
    views = [[(row[a:b], label[a:b], X[a:b]) for a, b in part] for part in parts]
    return row, label, X, views


def _spilled(shards: Iterator[Iterator[Chunk]], spill_dir: str | None) -> list[list[Chunk]]:
    """The chunks with their values written to an anonymous temp file and read back as memory maps."""
    meta: list[list[tuple[np.ndarray, np.ndarray, int, tuple[int, ...]]]] = []
    offset = 0
    fh = tempfile.TemporaryFile(prefix="neuronhead-spill-", dir=spill_dir)  # noqa: SIM115 (the map holds it)
    for shard in shards:
        meta.append([])
        for row, label, X in shard:
            fh.write(np.ascontiguousarray(X, np.float16).tobytes())
            meta[-1].append((row, label, offset, X.shape))
            offset += X.size
    fh.flush()
    if not offset:
        return [[(r, lab, np.zeros(shape, np.float16)) for r, lab, _, shape in m] for m in meta]
    values = np.memmap(fh, np.float16, mode="c", shape=(offset,))  # keeps the file open and alive
    return [[(r, lab, values[o : o + int(np.prod(sh))].reshape(sh)) for r, lab, o, sh in m] for m in meta]


def fit_probes_streamed(
    source: StoreRows,
    probes: LayerProbes,
    options: StreamOptions = StreamOptions(),
    *,
    label_names: Sequence[str] | None = None,
    progress: bool = False,
) -> LayerProbes:
    """Fit an unfitted :class:`LayerProbes` on a feature folder without loading it; returns it fitted."""
    manifest = read_features_manifest(source.folder)
    layers = list(manifest.layers)
    s = probes.settings()
    rows, labels = source.targets()
    label_names = label_names or manifest.label_names
    _, cw = probes.fit_targets(labels, len(label_names or []) or None)
    target, n_out, n = probes.target_standardization(), probes.n_outputs_, len(rows)
    width = layer_width(source.folder, layers[0])
    parts, stds = [], []
    groups = options.groups(layers, width, n, s.batch_size)
    for group in tqdm(groups, desc="phase 1 layer groups", unit="group", disable=not progress):
        data = GroupData(source, group, options, options.caches(len(group), width, n), n)
        trainer = ProbeTrainer(s, len(group), 2 * width, n_out, n, class_weight=cw)
        std, result = _fit_group(data, trainer, target, label_names)
        del data, trainer  # before the next group is read: one group in memory at a time
        stds.append(std)
        parts.append(result)
    return probes.set_result(joined(parts), split_of(rows, s.n_splits), joined_standardizer(stds))


def layer_width(folder: str | os.PathLike, layer: int) -> int:
    """A layer's FFN width, from the first shard's schema."""
    schema = pq.read_schema(check_shards(folder)[0])
    return int(schema.field(f"layer_{layer}_mean").type.list_size)


def _fit_group(
    data: GroupData, trainer: ProbeTrainer, target, names, std: Standardizer | None = None
) -> tuple[Standardizer, ProbeResult]:
    """One layer group: streamed statistics (unless given), the epochs, then the held-out confusion
    counts. A trainer of one probe over the group's layers side by side is the all-layer probe."""
    std = std or statistics(data)
    if data.X is not None:
        data.standardize(std)
    tensors = chunk_tensors(std, trainer, target, standardized=data.Z is not None)
    for _ in train_epochs(data, trainer, tensors):
        pass
    scores = None
    if count_held_out(data, trainer, tensors):
        scores = grid_scores(trainer.conf.numpy(), trainer.s.select, names)
    return std, trainer.result(scores)


def statistics(data: GroupData) -> Standardizer:
    """The group's standardization: over the cached array as :meth:`LayerProbes.fit` takes it (same
    float64 sums, same result), else in one streaming pass."""
    if data.X is not None:
        return Standardizer().fit(data.X)
    return Standardizer().fit_chunks(X for _, _, X in data.passes())


def chunk_tensors(
    std: Standardizer, trainer: ProbeTrainer, target, standardized: bool = False
) -> Callable[..., tuple]:
    """A chunk ``(row, label, X)`` → standardized ``x``, target and fold tensors for ``trainer``
    (``standardized``: ``X`` already is, from :meth:`GroupData.standardize`). ``target``: ``None`` for
    classes, ``(mean, scale)`` to standardize a regression target."""
    mean = torch.from_numpy(std.mean_.reshape(trainer.L, -1))
    scale = torch.from_numpy(std.scale_.reshape(trainer.L, -1))

    def tensors(row, label, X):
        if standardized:
            x = torch.from_numpy(X)
        else:
            x = (torch.from_numpy(X.reshape(len(X), trainer.L, -1)).float() - mean) / scale
        if target is None:
            yt = torch.from_numpy(label.astype(np.int64))
        else:
            yt = torch.from_numpy(((label.astype(np.float64) - target[0]) / target[1]).astype(np.float32))
        return x, yt, torch.from_numpy(split_of(row, trainer.s.n_splits))

    return tensors


def count_held_out(data: GroupData, trainer: ProbeTrainer, tensors) -> bool:
    """Add the best probes' held-out predictions to ``trainer.conf``; False when the probes are
    chosen by loss (regression, or ``select="loss"``) and there is nothing to count."""
    if trainer.s.task != "classification" or trainer.s.select == "loss":
        return False
    step = scoring_rows(trainer)
    for row, label, X in data.passes():
        for i in range(0, len(row), step):
            trainer.count_batch(*tensors(row[i : i + step], label[i : i + step], X[i : i + step]))
    return True


def scoring_rows(trainer: ProbeTrainer, budget: int = 2**27) -> int:
    """Rows scored at once (held-out loss and counts): LayerProbes.fit's 4,096, fewer when the group's
    float32 inputs would pass ``budget`` bytes (a batch is copied once more for the matrix product):
    4,096 rows of five GPT2-XL layers are 1 GiB."""
    return int(max(1, min(4096, budget // (4 * trainer.L * trainer.F))))


def train_epochs(data: GroupData, trainer: ProbeTrainer, tensors, resumed: bool = False) -> Iterator[int]:
    """Train until the trainer stops: seeded passes, each followed by the held-out loss.

    Yields the epoch count after every epoch that training goes on from, at a point a checkpoint of
    the trainer resumes from exactly (``resumed=True``: the weights have been trained through
    ``trainer.epoch`` and not yet scored).
    """
    s = trainer.s

    def train(chunk, rng, before=None):
        x, yt, split = tensors(*chunk)
        if before is not None:  # score the held-out rows against the weights the epoch began with
            trainer.eval_batch(x, yt, split, before)
        perm = torch.from_numpy(rng.permutation(len(x)))
        for i in range(0, len(x), s.batch_size):
            idx = perm[i : i + s.batch_size]
            trainer.train_batch(x[idx], yt[idx], split[idx])

    if data.Z is not None:
        yield from _global_epochs(data, trainer, tensors, resumed)
        return
    if not resumed:
        rng = np.random.default_rng([s.seed, 0])
        for chunk in data.passes(rng):
            train(chunk, rng)
    while True:
        if trainer.epoch + 1 < s.max_epochs:  # data here is spilled: cached groups took the branch above
            # Spilled data: epoch e's held-out rows are scored during epoch e+1's training pass, against
            # a snapshot of the weights after epoch e: one read per epoch, not two. Epoch e+1 runs
            # before the stop after e is known; when training stops, that epoch is discarded (the
            # result is the best snapshot), so the probes equal the unfolded loop's.
            before, rng = trainer.snapshot(), np.random.default_rng([s.seed, trainer.epoch + 1])
            trainer.set_lr(trainer.epoch + 1)
            for chunk in data.passes(rng):
                train(chunk, rng, before)
            if not trainer.end_epoch(before):
                return
            yield trainer.epoch
            continue
        for chunk in data.passes():
            trainer.eval_batch(*tensors(*chunk))
        if not trainer.end_epoch():
            return
        rng = np.random.default_rng([s.seed, trainer.epoch])
        for chunk in data.passes(rng):
            train(chunk, rng)
        yield trainer.epoch


def _global_epochs(data: GroupData, trainer: ProbeTrainer, tensors, resumed: bool) -> Iterator[int]:
    """:func:`train_epochs` on a cached group: the batches, their order and the held-out passes of
    :meth:`LayerProbes.fit` (one generator seeded once, a permutation of every row per epoch, sorted
    batches), so a group's probes equal the in-memory fit's layers."""
    s, n = trainer.s, len(data.row)
    rng = np.random.default_rng(s.seed)
    for _ in range(trainer.epoch + 1 if resumed else 0):  # replay the epochs a checkpoint holds
        rng.permutation(n)

    def train_pass():
        for idx in batches(n, s.batch_size, rng):
            idx.sort()
            trainer.train_batch(*tensors(data.row[idx], data.label[idx], data.Z[idx]))

    if not resumed:
        train_pass()
    while True:
        step = scoring_rows(trainer)
        for i in range(0, n, step):
            block = slice(i, i + step)
            trainer.eval_batch(*tensors(data.row[block], data.label[block], data.Z[block]))
        if not trainer.end_epoch():
            return
        train_pass()
        yield trainer.epoch


def gather(
    source: StoreRows, neurons: Mapping[int, np.ndarray], options: StreamOptions = StreamOptions()
) -> tuple[np.ndarray, np.ndarray, Gathered]:
    """Row numbers, labels and the pooled values of ``neurons`` (``{layer: ids}``) of every row of
    ``source``, chunk by chunk, picked column by column: memory is ``rows × Σ ids`` plus one chunk of
    the wanted columns (``rows_for`` rows), never a whole shard of them. Positions in the returned
    :class:`Gathered` are the store's layer positions."""
    layers = list(read_features_manifest(source.folder).layers)
    pos = {layer: p for p, layer in enumerate(layers)}
    wanted = sorted(neurons)
    ids = {layer: np.asarray(neurons[layer]) for layer in wanted}
    if wanted:
        options = options.spanning(len(wanted), layer_width(source.folder, wanted[0]))
    rows, labels, parts = [], [], {layer: [] for layer in wanted}
    columns = ["row", "label", *feature_columns(wanted)]
    for batch in iter_columns(check_shards(source.folder), columns, options.chunk_rows):
        row = batch.column("row").to_numpy()
        keep = source.keeps(row)
        if not keep.any():
            continue
        rows.append(row[keep])
        labels.append(batch.column("label").to_numpy(zero_copy_only=False)[keep])
        for layer in wanted:
            pooled = [list_values(batch.column(f"layer_{layer}_{p}"))[:, ids[layer]] for p in ("mean", "max")]
            parts[layer].append(np.stack(pooled, axis=1)[keep])
    if not rows:
        raise ValueError(f"{source.folder}: no featured rows")
    blocks = {pos[layer]: (ids[layer], np.concatenate(parts[layer])) for layer in wanted}
    return np.concatenate(rows), np.concatenate(labels), Gathered(blocks, sum(len(r) for r in rows))


def fit_flat_probe(
    source: StoreRows,
    phase1: LayerProbes,
    params: dict,
    options: StreamOptions = StreamOptions(),
    *,
    layers: Sequence[int] | None = None,
) -> LayerProbes:
    """The all-layer probe, streamed: one logistic (or linear) regression over every neuron of
    ``layers`` side by side, trained like Phase 1 (SGD over the L2 grid, early stopping on a 10%
    held-out slice) on chunks of ``rows_for`` rows, standardized by ``phase1``'s statistics.

    Memory is one chunk plus the weights (features × grid × outputs, five copies for Adam and the
    best state): ≈ 90 MB × outputs at GPT2-XL's 614,400 features, never rows × features. ``params``
    are :meth:`NeuronHead.linear_params`; the result's standardization is the identity.
    """
    manifest = read_features_manifest(source.folder)
    layers = list(manifest.layers) if layers is None else list(layers)
    pos = [list(manifest.layers).index(layer) for layer in layers]
    names = params.get("label_names")
    probe = LayerProbes(phase1.task, folds=1, **{k: v for k, v in params.items() if k != "label_names"})
    s = probe.settings()
    rows, labels = source.targets()
    width = phase1.width_
    F = len(layers) * 2 * width
    _, cw = probe.fit_targets(labels, phase1.n_outputs_)
    chunked = options.spanning(len(layers), width)
    data = GroupData(source, layers, chunked, chunked.caches(len(layers), width, len(rows)), len(rows))
    mean, scale = (getattr(phase1.standardizer_, k)[pos].reshape(1, -1) for k in ("mean_", "scale_"))
    std = Standardizer._from_state({}, {"mean": mean, "scale": scale})
    trainer = ProbeTrainer(s, 1, F, phase1.n_outputs_, len(rows), class_weight=cw)
    _, result = _fit_group(data, trainer, probe.target_standardization(), names, std)
    identity = {"mean": np.zeros((1, 2, F // 2), np.float32), "scale": np.ones((1, 2, F // 2), np.float32)}
    return probe.set_result(result, split_of(rows, s.n_splits), Standardizer._from_state({}, identity))


def stream_decision(source: StoreRows, head, options: StreamOptions = StreamOptions()) -> np.ndarray:
    """A fitted head's raw outputs for every row of ``source``, in store order, reading only the
    layers the head uses, ``rows_for`` rows at a time."""
    layers = list(head.layers_)
    chunked = options.spanning(len(layers), head.ffn_width_)
    out = [head.decision(X, layers) for shard in source.shards(layers, chunked) for _, _, X in shard]
    if not out:
        raise ValueError(f"{source.folder}: no featured rows to score")
    return np.concatenate(out)


def stream_layer_decisions(
    source: StoreRows, probes: LayerProbes, options: StreamOptions = StreamOptions()
) -> np.ndarray:
    """Every layer's (fold-averaged) probe outputs ``(rows, layers, outputs)``, in store order."""
    layers = list(read_features_manifest(source.folder).layers)
    chunked = options.spanning(len(layers), probes.width_)
    out = [probes.decision(X) for shard in source.shards(layers, chunked) for _, _, X in shard]
    if not out:
        raise ValueError(f"{source.folder}: no featured rows to score")
    return np.concatenate(out)


def read_column(source: StoreRows, name: str, options: StreamOptions = StreamOptions()) -> np.ndarray:
    """A small fixed-size-list column (a sentence embedding) of the rows of ``source``, as float32."""
    out = []
    for batch in iter_columns(check_shards(source.folder), ["row", name], options.chunk_rows):
        row = batch.column("row").to_numpy()
        keep = source.keeps(row)
        col = batch.column(name)
        values = col.flatten().to_numpy(zero_copy_only=False).reshape(len(row), -1)
        out.append(values[keep].astype(np.float32))
    return np.concatenate(out)


def joined_standardizer(stds: list[Standardizer]) -> Standardizer:
    """Layer groups' statistics as one, in layer order."""
    arrays = {k: np.concatenate([getattr(s, f"{k}_") for s in stds], axis=0) for k in ("mean", "scale")}
    return Standardizer._from_state({"n": stds[0].n_}, arrays)


def joined(parts: list[ProbeResult]) -> ProbeResult:
    """Layer groups' results as one: arrays joined on their layer axis; the epoch count is the most
    any group ran, the history the mean loss of the groups that ran that epoch."""
    longest = max(len(p.history) for p in parts)
    history = [float(np.mean([p.history[e] for p in parts if len(p.history) > e])) for e in range(longest)]
    return ProbeResult(
        fold_weight=np.concatenate([p.fold_weight for p in parts], axis=1),
        fold_bias=np.concatenate([p.fold_bias for p in parts], axis=1),
        c=np.concatenate([p.c for p in parts]),
        heldout_loss=np.concatenate([p.heldout_loss for p in parts]),
        grid_loss=np.concatenate([p.grid_loss for p in parts]),
        grid_score=np.concatenate([p.grid_score for p in parts]),
        grid_weight=np.concatenate([p.grid_weight for p in parts], axis=2),
        grid_bias=np.concatenate([p.grid_bias for p in parts], axis=2),
        epochs=max(p.epochs for p in parts),
        history=history,
    )
