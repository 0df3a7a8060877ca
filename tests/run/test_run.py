"""``neuronhead run`` end to end on the demo set: stages, resume after an interrupt, config files, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from neuronhead.heads.artifact import load_head
from neuronhead.run.config import read_config_file, resolve_config
from neuronhead.store import shard_files
from tests.paths import DEMO, REPO
from tests.run.demo_run import _cmd, _shard_state, _stages


@pytest.mark.slow
def test_an_interrupted_run_does_not_extract_again(interrupted_then_finished):
    r = interrupted_then_finished
    out = r["out"]
    assert r["first_rc"] != 0, r["first_log"][-2000:]  # it really was interrupted
    assert "neuronhead run: interrupted; run it again to resume" in r["first_log"]  # said, not a traceback
    assert "head" not in r["after_interrupt"]  # ... after extraction, before the head was fitted
    assert r["second"].returncode == 0, r["second"].stderr[-3000:]
    stages = _stages(out)
    for name in ("train", "val"):
        assert stages[f"extract {name}"]["reused"] is True
        assert _shard_state(out / "features" / name) == r["shards"][name]  # not one shard rewritten
        assert (out / "features" / name / "manifest.json").read_text() == r["manifests"][name]
        assert "already complete" in r["second"].stdout
    assert stages["head"]["reused"] is False and stages["head"]["status"] == "done"
    assert f"report: {out / 'report.html'}" in r["second"].stdout  # ends by saying where the report is


@pytest.mark.slow
def test_a_finished_run_reuses_every_stage(interrupted_then_finished, tmp_path):
    out = interrupted_then_finished["out"]
    head_bytes = (out / "head" / "head.safetensors").read_bytes()
    again = subprocess.run(_cmd(out), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    stages = _stages(out)
    assert all(stages[s]["reused"] for s in ("extract train", "extract val", "head", "explain", "score"))
    assert (out / "head" / "head.safetensors").read_bytes() == head_bytes


@pytest.mark.slow
def test_the_run_scores_every_row_and_evaluates_the_head(interrupted_then_finished):
    out = interrupted_then_finished["out"]
    scored = pq.read_table(shard_files(out / "scores")).to_pandas()
    n_val = len((DEMO / "val.csv").read_text().splitlines()) - 1
    assert len(scored) == n_val and scored["error"].isna().all()
    summary = json.loads((out / "run.json").read_text())["summary"]
    report = json.loads((out / "head" / "report.json").read_text())
    assert summary["val"] == pytest.approx(report["val"])  # the evaluation recomputes the fit's figure
    ev = json.loads((out / "evaluation" / "val.json").read_text())
    assert np.asarray(ev["confusion"]).sum() == n_val


@pytest.mark.slow
def test_the_report_holds_every_part(interrupted_then_finished):
    out = interrupted_then_finished["out"]
    md = (out / "report.md").read_text()
    for title in (
        "## Data", "## Results against the baselines", "## Layers", "## Salient neurons",
        "## Confusion matrix", "## What the salient neurons respond to", "## Why it said that",
        "## Scored collection", "## Times and throughput",
    ):  # fmt: skip
        assert title in md
    for rel in md.split("](")[1:]:  # every linked figure exists
        assert (out / rel.split(")")[0]).is_file()
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == md.count("![")  # self-contained
    assert "<script" not in page and "http://" not in page.split("<body>")[0]
    for name in ("sentence embedding", "all layers concatenated", "random neurons", "best single-layer"):
        assert name in md


@pytest.mark.slow
def test_the_report_explains_validation_texts_of_every_class(interrupted_then_finished):
    out = interrupted_then_finished["out"]
    examples = json.loads((out / "explanations.json").read_text())
    head, _ = load_head(out / "head")
    assert {ex["label"] for ex in examples} == set(head.label_names_)  # every class has its texts
    assert len(examples) <= 2 * len(head.label_names_)
    val = (DEMO / "val.csv").read_text(encoding="utf-8")
    md = (out / "report.md").read_text()
    for ex in examples:
        e = ex["explanation"]
        assert ex["text"] in val and len(e["neurons"]) == 5
        assert e["label"] in head.label_names_
        assert f"**row {ex['row']}**" in md
        assert abs(e["residual"]) < 1e-3 * max(1.0, abs(e["output"] - e["baseline"]))
    assert any(ex["label"] == ex["explanation"]["label"] for ex in examples)  # a right one is shown


@pytest.mark.slow
def test_neuron_examples_are_the_texts_that_really_activate_the_neuron(interrupted_then_finished):
    from neuronhead.heads.neurons import neuron_examples

    out = interrupted_then_finished["out"]
    head, _ = load_head(out / "head")
    items = neuron_examples(head, out / "features" / "val", texts=3)
    names = set(head.label_names_)
    assert {i["class"] for i in items} == names
    table = pq.read_table(shard_files(out / "features" / "val")).sort_by("row")
    texts = table["text"].to_pylist()
    for it in items:
        assert it["neuron"] in head.neurons_[it["layer"]]  # a salient neuron of the head
        col = table[f"layer_{it['layer']}_{it['pooling']}"].combine_chunks()
        act = col.flatten().to_numpy(zero_copy_only=False).reshape(table.num_rows, -1)[:, it["neuron"]]
        act = act.astype(np.float32)
        order = np.argsort(-act, kind="stable")
        assert [r["text"] for r in it["most"]] == [texts[i] for i in order[:3]]
        assert it["most"][0]["activation"] == pytest.approx(float(act.max()), abs=1e-3)
        assert it["least"][0]["activation"] == pytest.approx(float(act.min()), abs=1e-3)
    # the neurons chosen for a class fire mostly on that class's texts
    assert np.mean([i["top_share"] > i["base_share"] for i in items]) >= 0.8


def test_config_files_and_the_command_line(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text(
        'train = "a.csv"\nval = "b.csv"\nout = "runs/x"\nwidth = 8\nmax-length = 64\nbaselines = false\n'
    )
    yaml = tmp_path / "run.yaml"
    yaml.write_text("train: a.csv\nout: runs/y\ntune: 10\nhead_params: {variant: logits}\n")
    cfg = resolve_config(read_config_file(toml), {"width": 16, "seed": None})
    assert (cfg.train, cfg.val, cfg.width, cfg.max_length, cfg.baselines) == ("a.csv", "b.csv", 16, 64, False)
    cfg = resolve_config(read_config_file(yaml), {"out": "runs/z"})
    assert (cfg.out, cfg.tune, cfg.head_settings()["variant"]) == ("runs/z", 10, "logits")
    bad = tmp_path / "bad.toml"
    bad.write_text('train = "a.csv"\nwidht = 8\n')
    with pytest.raises(ValueError, match=r"bad.toml: unknown option 'widht'"):
        read_config_file(bad)
    with pytest.raises(ValueError, match="width: expected"):
        resolve_config({"train": "a", "out": "o", "width": "wide"}, {})
    with pytest.raises(ValueError, match="needs --out"):
        resolve_config({"train": "a"}, {})


def test_the_cli_reads_a_config_file_and_refuses_a_folder_without_val(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'train = "{DEMO / "train.csv"}"\nout = "{tmp_path / "o"}"\n')
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-m", "neuronhead.cli", "run", "--config", str(cfg)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2 and "give --val" in r.stderr
