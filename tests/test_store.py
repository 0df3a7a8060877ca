"""The feature store's manifest is versioned: one written by a newer neuronhead is refused by name,
and a record without a version (a score folder's) reads as before."""

from __future__ import annotations

import json

import pytest

from neuronhead.store import FORMAT_VERSION, MANIFEST, read_manifest
from neuronhead.synthetic import PlantedStore, write_planted_store


def test_a_newer_or_unknown_format_is_refused_and_an_unversioned_record_reads(tmp_path):
    store = tmp_path / "store"
    write_planted_store(store, PlantedStore(rows=32, layers=1, width=4, planted=1))
    path = store / MANIFEST
    manifest = json.loads(path.read_text())
    assert read_manifest(store)["format_version"] == FORMAT_VERSION
    path.write_text(json.dumps(manifest | {"format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ValueError, match=rf"{MANIFEST}: feature store format {FORMAT_VERSION + 1} is newer"):
        read_manifest(store)
    path.write_text(json.dumps(manifest | {"format_version": "one"}))
    with pytest.raises(ValueError, match="format_version 'one' is not one neuronhead wrote"):
        read_manifest(store)
    path.write_text(json.dumps({k: v for k, v in manifest.items() if k != "format_version"}))
    assert read_manifest(store)["layers"] == manifest["layers"]
