"""A job folder's manifest is a typed, versioned record: one written by a newer neuronhead is refused
by name, a record without a version (a score folder's) reads as before, and reading then writing a
record gives back the same JSON."""

from __future__ import annotations

import json

import pytest

from neuronhead.manifests import FORMAT_VERSION, FeatureManifest, ScoreManifest, manifest_from_json
from neuronhead.store import MANIFEST, read_features_manifest, read_manifest, write_manifest
from neuronhead.synthetic import PlantedStore, write_planted_store


def test_a_newer_or_unknown_format_is_refused_and_an_unversioned_record_reads(tmp_path):
    store = tmp_path / "store"
    write_planted_store(store, PlantedStore(rows=32, layers=1, width=4, planted=1))
    path = store / MANIFEST
    manifest = json.loads(path.read_text())
    assert read_manifest(store).format_version == FORMAT_VERSION
    path.write_text(json.dumps(manifest | {"format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ValueError, match=rf"{MANIFEST}: feature store format {FORMAT_VERSION + 1} is newer"):
        read_manifest(store)
    path.write_text(json.dumps(manifest | {"format_version": "one"}))
    with pytest.raises(ValueError, match="format_version 'one' is not one neuronhead wrote"):
        read_manifest(store)
    path.write_text(json.dumps({k: v for k, v in manifest.items() if k != "format_version"}))
    assert read_manifest(store).layers == manifest["layers"]


def test_records_round_trip_and_a_foreign_kind_or_shape_is_refused_by_file(tmp_path):
    store = tmp_path / "store"
    write_planted_store(store, PlantedStore(rows=32, layers=2, width=4, planted=1))
    raw = json.loads((store / MANIFEST).read_text())
    record = read_manifest(store)
    assert isinstance(record, FeatureManifest) and record.to_json() == raw  # read, then written, unchanged
    assert record.shards[0].rows == 32 and record.model.name == "synthetic" and record.layers == [0, 1]
    scores = {"kind": "scores", "status": "complete", "heads": {"h": {"task": "regression"}}, "shards": []}
    score_record = manifest_from_json(scores, "x.json")
    assert isinstance(score_record, ScoreManifest) and score_record.heads["h"].task == "regression"
    (tmp_path / "s").mkdir()
    write_manifest(score_record, tmp_path / "s")
    with pytest.raises(ValueError, match=r"/s: a folder of scores, not of features"):
        read_features_manifest(tmp_path / "s")
    for bad, why in [({"kind": "weights"}, "kind 'weights'"), ({"shards": [{"rows": 3}]}, "file"), ([], "")]:
        with pytest.raises(ValueError, match=r"x\.json: not a"):
            manifest_from_json(bad, "x.json")
        assert why in str(pytest.raises(ValueError, manifest_from_json, bad, "x.json").value)
