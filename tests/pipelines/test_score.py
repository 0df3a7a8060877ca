"""`neuronhead score`: every row out exactly once, scores equal the heads on extracted features, resume."""

from __future__ import annotations

import json
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from neuronhead.cli import main
from neuronhead.heads.artifact import HeadError, load_head
from neuronhead.models import HookedModel, load_model, tokenize
from neuronhead.pipelines.headset import HeadSet, parse_head_specs
from neuronhead.pipelines.options import Engine, Output
from neuronhead.pipelines.scoring import score
from neuronhead.store import load_features
from tests.demo_features import fit_demo_heads
from tests.paths import DEMO

VAL = str(DEMO / "val.csv")
BAD_CSV = [
    b"id,text",
    b"g1,what a lovely day",
    b"e1,",
    b'e2,"   "',
    b"long," + b"word " * 20000,
    b"e3,bad \xff\xfe utf8",
    b"nul,nul \x00 byte inside",
    b'zwj,"family \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 and hebrew \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"',
    b"g2,this is terrible",
]


@pytest.fixture(scope="module")
def heads(tmp_path_factory):
    """Two heads on the demo set: one on layers 0..1, one on layers 0..3 (different depths)."""
    return fit_demo_heads(tmp_path_factory.mktemp("score"), "0-3", {"shallow": 1, "deep": 3})


def _read(out):
    return pq.read_table(out / "shards").to_pandas().sort_values("row").reset_index(drop=True)


def test_scores_equal_the_heads_on_extracted_features(heads, tmp_path):
    out = tmp_path / "scores"
    result = score(
        [f"shallow={heads / 'shallow'}", str(heads / "deep")],
        VAL,
        out,
        engine=Engine("local"),
        output=Output(shard_rows=64, progress=False),
    )
    val = load_features(heads / "val")
    n = len(val["label"])
    assert result["rows_in"] == result["rows_out"] == result["scored"] == n and result["errors"] == 0
    assert result["deepest_layer"] == 3
    df = _read(out)
    assert list(df["id"]) == list(val["id"]) and df["row"].is_unique
    loaded = load_model(depth=4)
    texts = pq.read_table(heads / "val" / "shards", columns=["text"]).column("text").to_pylist()
    tokens = tokenize(loaded.tokenizer, texts, 128)
    for name in ("shallow", "deep"):
        head, _ = load_head(heads / name)
        got = np.stack(df[f"{name}_scores"].to_numpy())
        # Recomputed from the model: a plain hooked forward over the head's own neurons, then the head.
        feats = HookedModel(loaded, head.layers_, neurons=head.neurons_).features(tokens)
        d = torch.from_numpy(head.decision_values({k: feats[k] for k in head.layers_}))
        np.testing.assert_allclose(got, torch.softmax(d, 1).numpy(), atol=1e-5)
        # and close to the head on the stored (float16) training-time features
        proba = head.predict_proba(val["X"], val["manifest"].layers)
        np.testing.assert_allclose(got, proba, atol=2e-3)
        assert (df[f"{name}_label_id"].to_numpy() == got.argmax(1)).all()
        names = head.label_names_
        pairs = zip(df[f"{name}_label_id"], df[f"{name}_label"], strict=True)
        assert all(names[i] == lab for i, lab in pairs)


@pytest.mark.slow
def test_bad_rows_come_out_with_a_reason_and_ray_matches_local(heads, tmp_path):
    data = tmp_path / "bad.csv"
    data.write_bytes(b"\n".join(BAD_CSV) + b"\n")
    local = score(
        [str(heads / "deep")], data, tmp_path / "local", engine=Engine("local"), output=Output(progress=False)
    )
    assert local["rows_in"] == local["rows_out"] == 8
    df = _read(tmp_path / "local")
    t = pq.read_table(tmp_path / "local" / "shards", columns=["id", "error"])
    errors = {i or "?": e for i, e in zip(t["id"].to_pylist(), t["error"].to_pylist(), strict=True)}
    assert errors["e1"] == "empty text" and errors["e2"] == "empty text"  # whitespace is stripped
    assert "bad.csv:6" in errors["?"] and "UTF-8" in errors["?"]
    for ok in ("g1", "g2", "long", "nul", "zwj"):
        assert errors[ok] is None, ok
    assert df.loc[df["id"] == "long", "truncated"].item()
    assert local["errors"] == 3 and local["scored"] == 5

    from neuronhead.cluster.connect import ensure_ray

    ensure_ray(num_cpus=2)
    remote = score(
        [str(heads / "deep")], data, tmp_path / "ray", engine=Engine("ray"), output=Output(progress=False)
    )
    assert {k: remote[k] for k in ("rows_in", "scored", "errors")} == {
        k: local[k] for k in ("rows_in", "scored", "errors")
    }
    np.testing.assert_allclose(
        np.stack(_read(tmp_path / "ray")["deep_scores"].dropna().to_numpy()),
        np.stack(df["deep_scores"].dropna().to_numpy()),
        atol=1e-5,
    )


def _ray_up() -> bool:
    return "ray" in sys.modules and sys.modules["ray"].is_initialized()


def test_an_interrupted_job_resumes_and_only_scores_what_is_missing(heads, tmp_path, capsys):
    out = tmp_path / "scores"
    args = ["score", "--head", str(heads / "shallow"), "--data", VAL, "--out", str(out)]
    assert main([*args, "--engine", "local"]) == 0
    first = _read(out)
    shards = sorted((out / "shards").glob("shard-*.parquet"))
    shards[0].unlink()  # as if the job died before writing it
    stats = json.loads((out / "shard_stats.json").read_text())
    assert main([*args, "--engine", "local"]) == 0
    printed = capsys.readouterr().out
    assert "scored 120 rows, 0 errors, 120 in" in printed
    assert _read(out).equals(first)
    assert json.loads((out / "shard_stats.json").read_text()).keys() == stats.keys()
    # A complete job run again computes nothing and starts nothing, not even the Ray it was asked for.
    assert not _ray_up()
    again = score([str(heads / "shallow")], VAL, out, engine=Engine("ray"), output=Output(progress=False))
    assert again["rows_out"] == again["rows_in"] == 120 and not _ray_up()
    assert _read(out).equals(first)


def test_heads_are_checked_before_any_work(heads, tmp_path):
    with pytest.raises(ValueError, match="two heads are named"):
        parse_head_specs([f"a={heads / 'deep'}", f"a={heads / 'shallow'}"])
    with pytest.raises(HeadError, match="not a head folder"):
        score([str(tmp_path)], VAL, tmp_path / "o", engine=Engine("local"), output=Output(progress=False))
    info = json.loads((heads / "deep" / "head.json").read_text())
    other = tmp_path / "other"
    other.mkdir()
    (other / "head.safetensors").write_bytes((heads / "deep" / "head.safetensors").read_bytes())
    info["model"]["weights_sha256"] = "0" * 64
    (other / "head.json").write_text(json.dumps(info))
    with pytest.raises(HeadError, match="different models"):
        score([str(heads / "deep"), str(other)], VAL, tmp_path / "o", engine=Engine("local"))
    with pytest.raises(HeadError, match="pass --force"):
        score([str(other)], VAL, tmp_path / "o", engine=Engine("local"))
    forced = HeadSet.load([str(other)], force=True)  # the head's recorded model, its hash not checked
    assert forced.names == ["other"] and forced.model_path == HeadSet.load([str(heads / "deep")]).model_path
