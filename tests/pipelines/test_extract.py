"""The extraction pipeline: output schema, counts, resume, refusal to mix, and Ray = in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neuronhead.cluster.logs import VERBOSE
from neuronhead.data import DataError
from neuronhead.models import HookedModel, load_model, tokenize
from neuronhead.pipelines.extraction import extract
from neuronhead.pipelines.options import Capture, Engine, Output, Reading, grouped
from neuronhead.store import load_features, read_manifest, shard_files, write_table
from tests.paths import DEMO

TEXTS = [
    "I love it",
    "   ",
    "so bad",
    "meh " * 80,
    "the train was on time",
    "ok then",
    "what a day!!",
    "never again",
    "fine",
    "lol",
]


@pytest.fixture
def texts_file(tmp_path) -> Path:
    path = tmp_path / "texts.jsonl"
    labels = ["pos", "neu", "neg"]
    path.write_text(
        "".join(json.dumps({"text": t, "label": labels[i % 3]}) + "\n" for i, t in enumerate(TEXTS))
    )
    return path


def test_output_schema_counts_and_values(tiny_models, texts_file, tmp_path):
    out = tmp_path / "feats"
    m = extract(
        texts_file,
        out,
        model=str(tiny_models["bert"]),
        capture=Capture(max_length=32),
        engine=Engine("local"),
        output=Output(shard_rows=4, progress=False),
    )
    assert (m.rows, m.errors, m.truncated, m.status) == (10, 1, 1, "complete")
    assert m.label_names == ["neg", "neu", "pos"] and m.pool_special_tokens is False
    assert m.model.weights_sha256 and m.layers == [0, 1, 2, 3] and len(m.shards) == 3

    table = pq.read_table(out / "shards")  # plain pyarrow, no Ray extension types
    assert table.schema.field("layer_3_max").type == pa.list_(pa.float16(), 48)
    assert table.num_rows == 10 and sorted(table["row"].to_pylist()) == list(range(10))
    by_row = {r["row"]: r for r in table.select(["row", "id", "error", "truncated"]).to_pylist()}
    assert by_row[1]["error"] == "empty text" and by_row[3]["truncated"] and by_row[0]["id"] == "0"

    loaded = load_model(tiny_models["bert"])
    ok = [t.strip() for t in TEXTS if t.strip()]
    want = HookedModel(loaded).features(tokenize(loaded.tokenizer, ok, 32))
    got = load_features(out)
    assert got["X"].shape == (9, 4, 2, 48) and list(got["label"]) == [2, 0, 2, 1, 0, 2, 1, 0, 2]
    for layer in range(4):
        np.testing.assert_allclose(got["X"][:, layer], want[layer], rtol=2e-3, atol=2e-3)  # float16 storage


def test_embeddings_columns_for_baselines(tiny_models, texts_file, tmp_path):
    m = extract(
        texts_file,
        tmp_path / "e",
        model=str(tiny_models["gpt2"]),
        capture=Capture(layers="1", embeddings=True, max_length=32),
        engine=Engine("local"),
        output=Output(progress=False),
    )
    assert m.depth == 4 and "last real" in m.embeddings["embed_token"]
    got = load_features(tmp_path / "e")
    loaded = load_model(tiny_models["gpt2"])
    ok = [t.strip() for t in TEXTS if t.strip()]
    want = HookedModel(loaded, layers=[1], embeddings=True).features(tokenize(loaded.tokenizer, ok, 32))
    for name in ("embed_mean", "embed_token"):
        assert got[name].shape == (9, 32)
        np.testing.assert_allclose(got[name], want[name], rtol=2e-3, atol=2e-3)


def test_rerun_skips_finished_shards_and_refuses_other_settings(tiny_models, texts_file, tmp_path):
    out = tmp_path / "feats"
    kw = {"model": str(tiny_models["bert"]), "shard_rows": 4, "engine": "local", "progress": False}
    extract(texts_file, out, **grouped(**kw))
    files = shard_files(out)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    files[1].unlink()  # as if the run had been killed before shard 1 was written
    m = json.loads((out / "manifest.json").read_text())
    m["status"] = "running"
    (out / "manifest.json").write_text(json.dumps(m))
    extract(texts_file, out, **grouped(**kw))
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in shard_files(out)}
    assert after.keys() == before.keys()
    assert after[files[0].name][0] == before[files[0].name][0]  # untouched
    assert after[files[2].name][0] == before[files[2].name][0]
    assert after[files[1].name][1] == before[files[1].name][1]  # recomputed identically
    assert read_manifest(out).status == "complete"
    with pytest.raises(FileExistsError, match="other settings"):
        extract(texts_file, out, **grouped(**{**kw, "layers": "0-1"}))


def test_a_failed_write_leaves_no_visible_file(tmp_path):
    class Boom(Exception):
        pass

    table = pa.table({"x": [1, 2]})
    target = tmp_path / "shard-00000.parquet"

    import neuronhead.store as store

    def failing(tmp):
        pq.write_table(table, tmp)
        raise Boom

    with pytest.raises(Boom):
        store.write_atomic(target, failing)
    assert list(tmp_path.iterdir()) == []
    write_table(table, target)
    assert [p.name for p in tmp_path.iterdir()] == ["shard-00000.parquet"]


def test_bad_rows_are_reported_not_lost(tiny_models, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "fine"}\n{"text": oops}\n{"text": "also fine"}\n')
    with pytest.raises(DataError, match="in.jsonl:2: broken JSON"):
        extract(
            path,
            tmp_path / "a",
            model=str(tiny_models["bert"]),
            engine=Engine("local"),
            output=Output(progress=False),
        )
    m = extract(
        path,
        tmp_path / "b",
        model=str(tiny_models["bert"]),
        engine=Engine("local"),
        reading=Reading(on_bad_row="skip"),
        output=Output(progress=False),
    )
    assert (m.rows_in, m.rows, m.bad_rows) == (3, 2, 1)
    bad = [json.loads(x) for x in (tmp_path / "b" / "bad_rows.jsonl").read_text().splitlines()]
    assert bad == [{"file": str(path), "line": 2, "problem": bad[0]["problem"]}]
    assert bad[0]["problem"].startswith("broken JSON")


def test_gpt2_layers_subset_stops_early_and_records_depth(tiny_models, texts_file, tmp_path):
    m = extract(
        texts_file,
        tmp_path / "g",
        model=str(tiny_models["gpt2"]),
        capture=Capture(layers="0-1"),
        engine=Engine("local"),
        output=Output(progress=False),
    )
    assert m.layers == [0, 1] and m.depth == 2 and m.model.architecture == "gpt2"
    assert pq.read_table(tmp_path / "g" / "shards").schema.names.count("layer_2_mean") == 0


@pytest.mark.slow
def test_cli_ray_engine_on_bundled_minilm_equals_in_process(tmp_path):
    """The README's main job on the demo set: Ray actor pool output == the in-process loop's, and the
    terminal shows only neuronhead's own lines (``--verbose`` adds Ray's: test_runner.py)."""
    data = str(DEMO / "val.csv")
    quiet = {k: v for k, v in os.environ.items() if k not in (VERBOSE, "RAY_BACKEND_LOG_LEVEL")}
    env = {**quiet, "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "neuronhead.cli",
        "extract",
        "--data",
        data,
        "--out",
        str(tmp_path / "ray"),
        "--shard-rows",
        "64",
        "--engine",
        "ray",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "features:" in run.stdout
    lines = [line for line in run.stderr.replace("\r", "\n").splitlines() if line.strip()]
    assert lines and all(line.startswith("extract:") for line in lines), lines  # the progress bar only
    extract(data, tmp_path / "local", engine=Engine("local"), output=Output(shard_rows=64, progress=False))
    ray_feats, local_feats = load_features(tmp_path / "ray"), load_features(tmp_path / "local")
    assert ray_feats["id"] == local_feats["id"] and len(ray_feats["id"]) == 120
    np.testing.assert_allclose(ray_feats["X"], local_feats["X"], rtol=1e-3, atol=1e-3)
    m = read_manifest(tmp_path / "ray")
    assert m.engine == "ray" and m.model.name == "bundled:all-MiniLM-L6-v2"


def test_cli_errors_are_one_clear_line(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("tweet,label\nhello,pos\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "neuronhead.cli",
            "extract",
            "--data",
            str(bad),
            "--out",
            str(tmp_path / "o"),
            "--engine",
            "local",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "no 'text' column; columns found: ['tweet', 'label']" in run.stderr
    assert "Traceback" not in run.stderr
