"""A store decoded once into a memory-mapped file (what tuning trials read): the rows in the asked
order, reused when unchanged, decoded again when the rows differ, small to pickle."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from neuronhead.fitting.mapped import decode_store
from neuronhead.fitting.stream import StoreRows, StreamOptions
from neuronhead.store import load_features
from neuronhead.synthetic import PlantedStore, write_planted_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    write_planted_store(folder, PlantedStore(rows=300, layers=3, width=16, shard_rows=70))
    return folder


def test_decoded_rows_follow_the_order_and_equal_the_store(store, tmp_path):
    tr = load_features(store)
    order = np.random.default_rng(0).permutation(len(tr["row"]))
    mapped, rows, labels = decode_store(
        StoreRows(store), tmp_path / "x.f16", order, StreamOptions(chunk_rows=32)
    )
    np.testing.assert_array_equal(rows, tr["row"][order])
    np.testing.assert_array_equal(labels, tr["label"][order])
    np.testing.assert_array_equal(mapped.array(), tr["X"][order])
    np.testing.assert_array_equal(mapped.rows(100, 150).array(), tr["X"][order][100:150])
    assert len(pickle.dumps(mapped)) < 500  # a path, not the rows


def test_a_second_decode_reuses_the_file_unless_the_rows_differ(store, tmp_path):
    path = tmp_path / "x.f16"
    decode_store(StoreRows(store), path)
    first = path.stat().st_mtime_ns
    decode_store(StoreRows(store), path)
    assert path.stat().st_mtime_ns == first
    order = np.arange(300)[::-1]
    mapped, rows, _ = decode_store(StoreRows(store), path, order)
    assert path.stat().st_mtime_ns != first
    np.testing.assert_array_equal(mapped.array()[0], load_features(store)["X"][-1])
    assert rows[0] == 299


def test_an_order_that_misses_rows_is_refused(store, tmp_path):
    with pytest.raises(ValueError, match="every one of the 300 rows once"):
        decode_store(StoreRows(store), tmp_path / "x.f16", np.arange(299))
