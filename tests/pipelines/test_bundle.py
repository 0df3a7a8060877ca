"""``neuronhead export``: a bundle predicts and scores as the original head does, without the original
model, and a bundle whose files do not match their recorded hashes is refused."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import PurePosixPath

import numpy as np
import pyarrow.parquet as pq
import pytest

import neuronhead
from neuronhead.cli import main
from neuronhead.heads.artifact import HeadError
from neuronhead.pipelines.options import Engine, Output
from neuronhead.pipelines.scoring import score
from tests.demo_features import fit_demo_heads
from tests.readme import readme_command

TEXTS = ["what a lovely day", "this is terrible", "the bus is late again @user", "ok"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_models):
    """A k = 2 head on a copy of the tiny BERT, its predictions, and its bundle made by the CLI."""
    root = tmp_path_factory.mktemp("bundle")
    shutil.copytree(tiny_models["bert"], root / "model")
    fit_demo_heads(root, "0-1", {"head": 1}, model=str(root / "model"))
    before = neuronhead.load(root / "head").predict_proba(TEXTS)
    assert main(["export", "--head", str(root / "head"), "--out", str(root / "bundle")]) == 0
    return root, before


def test_a_bundle_predicts_as_the_original_without_the_original_model(exported):
    root, before = exported
    config = json.loads((root / "bundle" / "model" / "config.json").read_text())
    assert config["num_hidden_layers"] == 2  # the tiny BERT has 4: only the blocks the head needs
    shutil.rmtree(root / "model", ignore_errors=True)  # the original model is gone
    after = neuronhead.load(root / "bundle")
    np.testing.assert_allclose(after.predict_proba(TEXTS), before, atol=1e-6)
    assert after.names == ["head"]
    data = root / "texts.jsonl"
    data.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    score(
        [str(root / "bundle")], data, root / "scores", engine=Engine("local"), output=Output(progress=False)
    )
    scored = pq.read_table(root / "scores" / "shards").to_pandas().sort_values("row")
    np.testing.assert_allclose(np.stack(scored["head_scores"].to_numpy()), before, atol=1e-6)


def test_a_bundle_whose_files_do_not_match_is_refused(exported, tmp_path, capsys):
    bundle = tmp_path / "b"
    shutil.copytree(exported[0] / "bundle", bundle)
    assert main(["export", "--head", str(bundle), "--out", str(bundle)]) != 0
    assert "exists and is not empty" in capsys.readouterr().err
    with pytest.raises(ValueError, match="carries its own model"):
        neuronhead.load(bundle, model="elsewhere")
    weights = bundle / "heads" / "head" / "head.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(HeadError, match="head.safetensors: does not match the sha256"):
        neuronhead.load(bundle)


def test_the_readme_export_line_runs(exported, tmp_path):
    line = readme_command("Use a head", "neuronhead export")
    args = shlex.split(line.replace("runs/emotion/head", str(exported[0] / "bundle")))  # a bundle re-exports
    args = [a.replace("runs/emotion/bundle", str(tmp_path / "bundle")) for a in args]
    assert args[0] == "neuronhead" and main(args[1:]) == 0
    assert neuronhead.load(tmp_path / "bundle").names == ["head"]


def test_the_bundle_record_is_versioned_and_an_older_layout_still_loads(exported, tmp_path):
    """bundle.json is a typed record with a schema number: a bundle written before the field existed
    loads as schema 1, a newer schema or a record missing a field is refused with the file named."""
    bundle = tmp_path / "b"
    shutil.copytree(exported[0] / "bundle", bundle)
    record_path = bundle / "bundle.json"
    record = json.loads(record_path.read_text())
    assert record["schema"] == 2
    older = {k: v for k, v in record.items() if k not in ("schema", "record_sha256")}  # as schema 1 was
    record_path.write_text(json.dumps(older))
    np.testing.assert_allclose(neuronhead.load(bundle).predict_proba(TEXTS), exported[1], atol=1e-6)
    record_path.write_text(json.dumps(record | {"schema": 3}))
    with pytest.raises(HeadError, match=r"bundle.json: bundle schema 3 is newer than this neuronhead reads"):
        neuronhead.load(bundle)
    record_path.write_text(json.dumps({k: v for k, v in older.items() if k != "heads"}))
    with pytest.raises(HeadError, match=r"bundle.json: a bundle record without a valid 'heads'"):
        neuronhead.load(bundle)
    record_path.write_text(json.dumps({k: v for k, v in record.items() if k != "record_sha256"}))
    with pytest.raises(HeadError, match=r"bundle.json: a bundle record without a valid 'record_sha256'"):
        neuronhead.load(bundle)


@pytest.mark.parametrize(("was", "now"), [(b'"depth": 2', b'"depth": 3'), (b'"heads": [', b'"heads": [ ')])
def test_a_changed_bundle_json_is_refused_naming_it(exported, tmp_path, was, now):
    """bundle.json is covered too: a changed value is refused; a change of layout alone is not one."""
    bundle = tmp_path / "b"
    shutil.copytree(exported[0] / "bundle", bundle)
    raw = (bundle / "bundle.json").read_bytes()
    assert raw.count(was) == 1
    (bundle / "bundle.json").write_bytes(raw.replace(was, now))
    if was.startswith(b'"depth"'):
        with pytest.raises(HeadError, match=r"bundle.json: does not match the sha256 it records of itself"):
            neuronhead.load(bundle)
    else:
        np.testing.assert_allclose(neuronhead.load(bundle).predict_proba(TEXTS), exported[1], atol=1e-6)


def test_a_bundle_records_no_path_of_the_machine_that_exported_it(exported):
    """No JSON file of a bundle names a folder of the exporting machine (the head's model copy and
    features were under ``root``; the bundled model under the environment)."""
    root = exported[0]
    found = []
    for path in (root / "bundle").rglob("*.json"):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.name}: {where}" for where in (str(root), sys.prefix) if where in text]
        found += [f"{path.name}: {s}" for s in _strings(json.loads(text)) if len(PurePosixPath(s).parts) > 2
                  and PurePosixPath(s).is_absolute()]  # fmt: skip
    assert found == []
    record = json.loads((root / "bundle" / "bundle.json").read_text())
    assert record["model"]["source"] == "model"  # the heads' model was the folder root/model


def _strings(value) -> list[str]:
    """Every string of a JSON value, keys too."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []
