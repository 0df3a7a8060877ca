"""Phase 1 streamed from the store: cached groups give the in-memory probes, in one layer group or many;
spilled groups fold their held-out passes exactly and stay close; planted neurons found; a store with a
bad shard refused by name."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from neuronhead.fitting.stream import (
    GroupData,
    StoreRows,
    StreamOptions,
    chunk_tensors,
    fit_probes_streamed,
    statistics,
    train_epochs,
)
from neuronhead.heads.phase1 import LayerProbes
from neuronhead.heads.probes import ProbeTrainer
from neuronhead.heads.salient import select_salient
from neuronhead.store import load_features, shard_name
from neuronhead.synthetic import PlantedStore, write_planted_store

SPEC = PlantedStore(rows=900, layers=3, width=48, planted=9, shard_rows=250)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    return folder, write_planted_store(folder, SPEC)


def _probes() -> LayerProbes:
    # patience beyond max_epochs: every layer group trains the same epochs, so grouping is exact
    return LayerProbes(class_weight="balanced", select="macro_f1", max_epochs=4, patience=10)


def test_cached_groups_equal_the_in_memory_fit(store):
    """A cached group trains on the in-memory fit's batches in its order, so the streamed probes are
    the in-memory ones, in one group or one group per layer (every probe trains the same epochs)."""
    folder, planted = store
    tr = load_features(folder)
    memory = _probes().fit(tr["X"], tr["label"], tr["row"], label_names=tr["manifest"].label_names)
    one = fit_probes_streamed(StoreRows(folder), _probes(), StreamOptions(chunk_rows=100))
    per_layer = fit_probes_streamed(
        StoreRows(folder), _probes(), StreamOptions(chunk_rows=100, layers_per_group=1)
    )
    for streamed in (one, per_layer):
        np.testing.assert_allclose(streamed.weight_, memory.weight_, atol=1e-6)
        np.testing.assert_array_equal(streamed.c_, memory.c_)
        np.testing.assert_array_equal(streamed.standardizer_.mean_, memory.standardizer_.mean_)
    chosen = select_salient(one.importance_, fraction=3 / SPEC.width)
    for layer, idx in planted.items():
        assert set(idx) == set(chosen[layer]), layer


def test_spilled_passes_fold_the_held_out_loss_without_changing_the_probes(store, tmp_path):
    """Spilled groups score epoch e's held-out rows during epoch e+1's pass and discard that epoch on
    a stop: against the plain loop (train, score, stop?) recomputed here, with early stopping, the
    best probes and epochs are identical, and the spill file leaves nothing behind."""
    folder, _ = store
    settings = LayerProbes(
        class_weight=None, select="macro_f1", max_epochs=12, patience=1, lr=0.05
    ).settings()
    source = StoreRows(folder)
    options = StreamOptions(chunk_rows=100, cache_gb=0, spill_dir=str(tmp_path))

    def fresh():
        data = GroupData(source, range(SPEC.layers), options, cache=False)
        trainer = ProbeTrainer(settings, SPEC.layers, 2 * SPEC.width, SPEC.classes, SPEC.rows)
        return data, trainer, chunk_tensors(statistics(data), trainer, None)

    data, folded, tensors = fresh()
    assert data.spilled and data.X is None
    for _ in train_epochs(data, folded, tensors):
        pass
    data, plain, tensors = fresh()

    def train(epoch):
        rng = np.random.default_rng([settings.seed, epoch])
        for row, label, X in data.passes(rng):
            x, y, split = tensors(row, label, X)
            perm = torch.from_numpy(rng.permutation(len(x)))
            for i in range(0, len(x), settings.batch_size):
                idx = perm[i : i + settings.batch_size]
                plain.train_batch(x[idx], y[idx], split[idx])

    train(0)
    while True:
        for chunk in data.passes():
            plain.eval_batch(*tensors(*chunk))
        if not plain.end_epoch():
            break
        train(plain.epoch)
    assert folded.epoch == plain.epoch < 12  # it did stop early
    torch.testing.assert_close(folded.best_weight, plain.best_weight, rtol=0, atol=0)
    torch.testing.assert_close(folded.best_loss, plain.best_loss, rtol=1e-6, atol=0)  # summed in pass order
    assert list(tmp_path.iterdir()) == []  # unlinked as it was opened, though still mapped


def test_spilled_probes_are_close_to_the_in_memory_fit(store, tmp_path):
    """Too large to cache: shards then rows within a chunk are shuffled, not all rows, so only the
    batch order differs; the decisions agree closely and the same neurons rank first."""
    folder, planted = store
    spilled = fit_probes_streamed(
        StoreRows(folder), _probes(), StreamOptions(chunk_rows=100, cache_gb=0, spill_dir=str(tmp_path))
    )
    tr = load_features(folder)
    memory = _probes().fit(tr["X"], tr["label"], tr["row"], label_names=tr["manifest"].label_names)
    a, b = spilled.decision(tr["X"]), memory.decision(tr["X"])
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95  # 4 epochs: order still shows
    assert (a.argmax(-1) == b.argmax(-1)).mean() > 0.9
    top = [select_salient(p.importance_, fraction=3 / SPEC.width) for p in (spilled, memory)]
    for layer, idx in planted.items():
        assert set(top[0][layer]) == set(top[1][layer]) == set(idx)


def test_training_rows_subset(store):
    folder, _ = store
    subset = np.arange(0, SPEC.rows, 2)
    probes = fit_probes_streamed(StoreRows(folder, train=subset), _probes(), StreamOptions(chunk_rows=100))
    assert len(probes.split_) == len(subset)


def _copy_store(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_a_shard_of_another_width_is_refused_by_name(store, tmp_path):
    folder = _copy_store(store[0], tmp_path / "mixed")
    other = tmp_path / "other"
    write_planted_store(other, PlantedStore(rows=250, layers=3, width=32, shard_rows=250))
    (folder / shard_name(2)).write_bytes((other / shard_name(0)).read_bytes())
    with pytest.raises(ValueError, match=r"shard-00002\.parquet.*differ"):
        fit_probes_streamed(StoreRows(folder), _probes())


def test_a_truncated_shard_is_refused_by_name(store, tmp_path):
    folder = _copy_store(store[0], tmp_path / "cut")
    path = folder / shard_name(1)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ValueError, match=r"shard-00001\.parquet.*truncated or corrupt"):
        fit_probes_streamed(StoreRows(folder), _probes())
    assert pq.read_schema(folder / shard_name(0)).field("layer_0_mean").type == pa.list_(pa.float16(), 48)


@pytest.mark.parametrize("variant", ["logits+values", "logits", "values"])
def test_a_head_on_gathered_neurons_equals_the_head_on_every_column(store, variant):
    """Phase 2 reads only the salient neurons: gathering them from the store changes nothing."""
    from neuronhead.fitting.stream import gather
    from neuronhead.heads.head import NeuronHead

    folder, _ = store
    tr = load_features(folder)
    layers, names = tr["manifest"].layers, tr["manifest"].label_names
    params = {"variant": variant, "salient_fraction": 0.1, "max_layer": 1}
    params |= {"width": 0} if variant == "values" else {}
    full = NeuronHead(**params).fit(tr["X"], tr["label"], tr["row"], layers=layers, label_names=names)
    probes = full.probes_
    top = select_salient(probes.importance_, fraction=0.1)
    rows, labels, gathered = gather(StoreRows(folder), {layers[p]: idx for p, idx in top.items()})
    np.testing.assert_array_equal(rows, tr["row"])
    part = NeuronHead(**params).fit(gathered, labels, rows, layers=layers, label_names=names, probes=probes)
    np.testing.assert_allclose(part.decision(gathered, layers), full.decision(tr["X"], layers), atol=1e-5)
    assert part.neurons_.keys() == full.neurons_.keys()


def test_store_set_fits_every_candidate_kind_like_the_in_memory_head(store):
    """Same Phase 1, then each kind fitted from the store: the dense and linear heads on gathered
    neurons, a layer's probe with nothing read, the all-layer probe streamed chunk by chunk."""
    from neuronhead.fitting.storeset import StoreSet
    from neuronhead.heads.head import NeuronHead

    folder, _ = store
    data = StoreSet(folder, options=StreamOptions(chunk_rows=100))
    tr = load_features(folder)
    layers, names = tr["manifest"].layers, tr["manifest"].label_names
    probes = data.fit_probes(_probes(), label_names=names)
    kinds = {
        "head": {"variant": "logits+values", "salient_fraction": 0.1},
        "probe@L1": {"variant": "probe", "salient_fraction": 1.0, "min_layer": 1, "max_layer": 1},
        "all-layer": {
            "variant": "values",
            "width": 0,
            "salient_fraction": 1.0,
            "probe_params": {"max_epochs": 4},
        },
    }
    for name, params in kinds.items():
        streamed = data.fit_head(NeuronHead(**params), probes, label_names=names)
        memory = NeuronHead(**params).fit(
            tr["X"], tr["label"], tr["row"], layers=layers, label_names=names, probes=probes
        )
        a, b = data.decision(streamed), memory.decision(tr["X"], layers)
        if name == "all-layer":  # SGD in another batch order: close, not equal
            assert (a.argmax(1) == b.argmax(1)).mean() > 0.95, name
            assert (data.predict(streamed) == tr["label"]).mean() > 0.8
        else:
            np.testing.assert_allclose(a, b, atol=1e-4, err_msg=name)


def test_gather_skips_error_rows_and_equals_the_loaded_columns(store, tmp_path):
    """Rows with an ``error`` have no features: gather leaves them out, reads a chunk at a time (a
    chunk spans every wanted layer, so it is sized by them) and picks exactly the asked neurons."""
    from neuronhead.fitting.stream import gather

    folder = _copy_store(store[0], tmp_path / "errors")
    path = folder / shard_name(1)
    table = pq.read_table(path)
    bad = np.zeros(table.num_rows, bool)
    bad[[3, 40, 41]] = True
    error = pa.array([("empty text" if b else None) for b in bad], pa.string())
    table = table.set_column(table.schema.get_field_index("error"), "error", error)
    for name in [n for n in table.column_names if n.startswith("layer_")]:
        col = table[name].combine_chunks()
        masked = pa.FixedSizeListArray.from_arrays(col.flatten(), col.type.list_size, mask=pa.array(bad))
        table = table.set_column(table.schema.get_field_index(name), table.schema.field(name), masked)
    pq.write_table(table, path)
    tr = load_features(folder)
    assert len(tr["row"]) == SPEC.rows - 3
    neurons = {0: np.array([1, 7, 30]), 2: np.array([0, 47])}
    rows, labels, gathered = gather(StoreRows(folder), neurons, StreamOptions(chunk_rows=64))
    np.testing.assert_array_equal(rows, tr["row"])
    np.testing.assert_array_equal(labels, tr["label"])
    for p, (ids, values) in gathered.blocks.items():
        np.testing.assert_array_equal(values, tr["X"][:, p][:, :, neurons[p]])
        np.testing.assert_array_equal(ids, neurons[p])


@pytest.mark.parametrize("variant", ["logits+values", "logits"])
def test_dense_inputs_made_per_batch_past_the_budget_give_the_same_head(store, variant):
    """Past ``memory_budget`` Phase 2 never holds every row's float32 inputs: they are made per batch
    from the gathered values, standardized with block-wise moments. Same head up to float rounding."""
    from neuronhead.fitting.stream import gather
    from neuronhead.heads.dense import LazyInputs
    from neuronhead.heads.head import NeuronHead, Phase2Options

    folder, _ = store
    tr = load_features(folder)
    layers, names = tr["manifest"].layers, tr["manifest"].label_names
    params = {"variant": variant, "salient_fraction": 0.2}
    probes = fit_probes_streamed(StoreRows(folder), _probes())
    top = NeuronHead(**params).planned_neurons(probes, layers)
    rows, labels, gathered = gather(StoreRows(folder), {layers[p]: idx for p, idx in top.items()})
    fit = {"layers": layers, "label_names": names, "probes": probes}
    eager = NeuronHead(**params).fit(gathered, labels, rows, **fit)
    lazy = NeuronHead(**params).fit(gathered, labels, rows, phase2=Phase2Options(memory_budget=1), **fit)
    np.testing.assert_allclose(lazy.z_mean_, eager.z_mean_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(lazy.z_scale_, eager.z_scale_, rtol=1e-4)
    assert lazy.phase2_["best_epoch"] == eager.phase2_["best_epoch"]
    np.testing.assert_allclose(lazy.phase2_["heldout_loss"], eager.phase2_["heldout_loss"], rtol=1e-4)
    np.testing.assert_allclose(
        lazy.decision(gathered, layers, budget=4096), eager.decision(gathered, layers), atol=1e-3
    )
    z = np.random.default_rng(0).standard_normal((50, 7)).astype(np.float32)
    inputs = LazyInputs(lambda idx: z[idx].copy(), 50, 7, budget=4 * 7 * 8)
    assert [len(b) for b in inputs.blocks(np.arange(50))] == [8] * 6 + [2]
    mean, std = inputs.moments(np.arange(0, 50, 2))
    np.testing.assert_allclose(mean, z[::2].mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std, z[::2].std(0), rtol=1e-5)


def test_past_the_budget_a_mapped_store_is_read_per_batch_and_gives_the_same_head(store, tmp_path):
    """Even the float16 kept columns can pass the budget (a tuning trial keeping 30% of every layer):
    then each batch reads its rows from the memory-mapped features and picks the kept columns itself."""
    from neuronhead.heads.head import NeuronHead, Phase2Options

    folder, _ = store
    tr = load_features(folder)
    mapped = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.float16, tr["X"].shape)
    mapped[:] = tr["X"]
    layers, names = tr["manifest"].layers, tr["manifest"].label_names
    params = {"variant": "logits+values", "salient_fraction": 0.3}
    fit = {
        "layers": layers,
        "label_names": names,
        "probes": fit_probes_streamed(StoreRows(folder), _probes()),
    }
    eager = NeuronHead(**params).fit(tr["X"], tr["label"], tr["row"], **fit)
    lazy = NeuronHead(**params).fit(
        mapped, tr["label"], tr["row"], phase2=Phase2Options(memory_budget=1), **fit
    )
    assert lazy.phase2_["best_epoch"] == eager.phase2_["best_epoch"]
    np.testing.assert_allclose(lazy.phase2_["heldout_loss"], eager.phase2_["heldout_loss"], rtol=1e-4)
    np.testing.assert_allclose(lazy.decision(mapped, layers, budget=4096), eager.decision(tr["X"], layers),
                               atol=1e-3)  # fmt: skip
