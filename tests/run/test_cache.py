"""The extraction cache of ``fit``/``evaluate``: keyed on the input's content, not on its mtime."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.fingerprint import StaleFolder, fingerprint, key_folder
from neuronhead.pipelines.options import grouped
from neuronhead.run.from_data import cached_extraction
from neuronhead.store import read_manifest

ROWS = [("a", "what a lovely day", "pos"), ("b", "this is awful", "neg"), ("c", "fine I guess", "pos")]


def _write(path, rows) -> None:
    path.write_text("".join(json.dumps({"id": i, "text": t, "label": y}) + "\n" for i, t, y in rows))


def _entry(tiny_models, data, cache):
    return cached_extraction(data, cache, model=str(tiny_models["bert"]), split=None, engine="local",
                             layers="0", progress=False)  # fmt: skip


def test_a_rewritten_identical_file_is_reused_and_a_changed_one_replaces_the_entry(tiny_models, tmp_path):
    data, cache = tmp_path / "train.jsonl", tmp_path / "cache"
    _write(data, ROWS)
    entry = _entry(tiny_models, data, cache)
    first = read_manifest(entry)
    shard = sorted((entry / "shards").iterdir())[0]
    written = shard.stat().st_mtime_ns

    _write(data, ROWS)  # the same content written again: a new mtime
    os.utime(data, ns=(first.file_stamps[0][2] + 10**9,) * 2)
    assert _entry(tiny_models, data, cache) == entry
    assert read_manifest(entry).fingerprint == first.fingerprint
    assert shard.stat().st_mtime_ns == written  # nothing extracted again

    _write(data, [*ROWS, ("d", "a new tweet arrived", "neg")])  # changed content: same entry, rebuilt
    assert _entry(tiny_models, data, cache) == entry
    again = read_manifest(entry)
    assert again.rows == 4 and again.fingerprint != first.fingerprint
    assert again.status == "complete"


def test_a_named_folder_is_still_refused_when_the_input_changed(tiny_models, tmp_path):
    data, out = tmp_path / "train.jsonl", tmp_path / "feats"
    kw = {"model": str(tiny_models["bert"]), "layers": "0", "engine": "local", "progress": False}
    _write(data, ROWS)
    extract(data, out, **grouped(**kw))
    _write(data, ROWS[:2])
    with pytest.raises(StaleFolder, match="other settings or data"):
        extract(data, out, **grouped(**kw))


def test_a_folder_keyed_on_mtime_before_content_hashing_is_still_accepted(tmp_path):
    data, out = tmp_path / "train.jsonl", tmp_path / "feats"
    _write(data, ROWS)
    out.mkdir()
    st = os.stat(data)
    settings = {"layers": [0], "source": {"kind": "jsonl", "files": None}}
    legacy = fingerprint(
        {**settings, "source": {"kind": "jsonl", "files": [[str(data), st.st_size, st.st_mtime_ns]]}}
    )
    (out / "manifest.json").write_text(json.dumps({"fingerprint": legacy, "shards": []}))
    keyed = key_folder(out, settings, [str(data)], "an extraction")
    assert keyed.previous.fingerprint == legacy and keyed.fingerprint != legacy  # accepted, re-keyed
    assert keyed.stamps[0].sha256 == hashlib.sha256(data.read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps({"fingerprint": "0" * 16, "shards": []}))
    with pytest.raises(StaleFolder, match="an extraction made with other settings or data"):
        key_folder(out, settings, [str(data)], "an extraction")
