"""``neuronhead.load``: the predictor's outputs are ``neuronhead score``'s for the same texts."""

from __future__ import annotations

import csv
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

import neuronhead
from neuronhead.cli import main
from neuronhead.heads.explain import explanation_lines
from neuronhead.pipelines.options import Engine, Output
from neuronhead.pipelines.predictor import PredictError
from neuronhead.pipelines.scoring import score
from tests.paths import DEMO
from tests.readme import readme_blocks, readme_command


@pytest.fixture(scope="module")
def heads(demo_heads):
    """Two classification heads on the demo set, stopping after layer 0 and after layer 1."""
    return demo_heads


def _val_texts() -> list[str]:
    with open(DEMO / "val.csv", newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


def test_the_predictor_equals_score_on_the_demo_set(heads, tmp_path):
    texts = _val_texts()
    out = tmp_path / "scores"
    score([str(heads / "k1")], DEMO / "val.csv", out, engine=Engine("local"), output=Output(progress=False))
    scored = pq.read_table(out / "shards").to_pandas().sort_values("row")
    predictor = neuronhead.load(heads / "k1")
    proba = predictor.predict_proba(texts)
    assert proba.shape == (len(texts), len(predictor.labels()))
    np.testing.assert_allclose(proba, np.stack(scored["k1_scores"].to_numpy()), atol=1e-6)
    assert list(predictor.predict(texts)) == list(scored["k1_label"])


def test_several_heads_share_one_pass_and_answer_by_name(heads):
    texts = _val_texts()[:40]
    both = neuronhead.load(f"a={heads / 'k1'}", f"b={heads / 'k2'}", batch_size=8)
    labels = both.predict(texts)
    assert set(labels) == {"a", "b"}
    # batches of 8, not 64: other padding reorders the float32 attention sums (4e-7 seen); probabilities ≤ 1
    np.testing.assert_allclose(
        both.predict_proba(texts)["b"], neuronhead.load(heads / "k2").predict_proba(texts), atol=1e-5
    )
    assert list(labels["a"]) == list(neuronhead.load(heads / "k1").predict(texts))


def test_no_texts_give_empty_arrays_of_the_usual_shape_and_type(heads):
    """``predict([])`` is what ``predict`` of texts is, with no rows: an array per head (a dict of them
    for several heads), not ``{}``."""
    one = neuronhead.load(heads / "k1")
    some, proba = one.predict(["a text"]), one.predict_proba(["a text"])
    none, no_proba = one.predict([]), one.predict_proba([])
    assert isinstance(none, np.ndarray) and none.shape == (0,) and none.dtype == some.dtype
    assert no_proba.shape == (0, len(one.labels())) and no_proba.dtype == proba.dtype
    both = neuronhead.load(f"a={heads / 'k1'}", f"b={heads / 'k2'}")
    labels, probas = both.predict([]), both.predict_proba([])
    assert set(labels) == set(probas) == {"a", "b"}
    assert all(v.shape == (0,) and v.dtype == some.dtype for v in labels.values())
    assert all(v.shape == (0, len(one.labels())) for v in probas.values())


def test_classes_are_the_labels_as_scikit_learn_names_them(heads):
    one = neuronhead.load(heads / "k1")
    assert isinstance(one.classes_, np.ndarray) and list(one.classes_) == one.labels()
    assert one.predict_proba(["fine"]).shape[1] == len(one.classes_)
    assert one.predict(["fine"])[0] in one.classes_ and one.classes_.dtype == one.predict(["fine"]).dtype
    both = neuronhead.load(f"a={heads / 'k1'}", f"b={heads / 'k2'}")
    assert set(both.classes_) == {"a", "b"} and list(both.classes_["b"]) == both.labels("b")


def test_what_is_not_a_list_of_texts_is_refused_saying_so(heads):
    predictor = neuronhead.load(heads / "k1")
    for bad, named in [(None, "None"), (3, "int"), ("one string", "one string")]:
        with pytest.raises(TypeError, match=f"texts must be a list of strings, not {named}"):
            predictor.predict(bad)


def test_bad_input_gets_the_reason_score_writes(heads):
    predictor = neuronhead.load(heads / "k1")
    with pytest.raises(PredictError, match="text 1: empty text"):
        predictor.predict(["fine", "", "also fine"])
    with pytest.raises(PredictError, match="text 0: not a string but int"):
        predictor.predict([3])
    with pytest.raises(TypeError, match="use predict or predict_proba"):
        predictor.predict_values(["a text"])
    with pytest.raises(TypeError, match="unknown option 'batch'"):
        neuronhead.load(heads / "k1", batch=4)


def test_importing_the_package_does_not_import_torch():
    code = "import sys, neuronhead; print('torch' in sys.modules, callable(neuronhead.load))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_the_readme_lines_run(heads, capsys):
    first, explain = readme_blocks("Use a head", "python")[:2]
    assert first.count("\n") == 3  # three lines
    scope: dict = {}
    exec(first.replace("runs/emotion/head", str(heads / "k1")), scope)
    labels, proba, names = eval(first.splitlines()[-1].split("  #")[0], scope)
    assert labels[0] in names and proba.shape == (1, len(names)) and abs(proba.sum() - 1) < 1e-5
    e = eval(explain.split("  #")[0], scope)
    assert e["label"] == labels[0] and len(e["neurons"]) == 5
    line = readme_command("Use a head", "neuronhead explain")
    args = shlex.split(line.replace("runs/emotion/head", str(heads / "k1")))
    assert args[0] == "neuronhead" and main(args[1:]) == 0
    printed = capsys.readouterr().out
    assert f"  k1: {labels[0]} (logit of {labels[0]}" in printed and printed.count("    L0.N") == 5


def test_records_keep_every_text_with_its_reason(heads):
    predictor = neuronhead.load(heads / "k1")
    texts = ["fine", "", "x " * 400]
    records = predictor.records(texts)
    assert [r["error"] for r in records] == [None, "empty text", None]
    assert [r["truncated"] for r in records] == [False, False, True]
    assert records[1]["heads"] == {}
    first = records[0]["heads"]["k1"]
    proba = predictor.predict_proba(["fine"])[0]
    assert list(first["probabilities"]) == predictor.labels()
    # "fine" padded beside a 400-word text, then alone: other float32 attention sums (3e-7 seen)
    np.testing.assert_allclose(list(first["probabilities"].values()), proba, atol=1e-5)
    assert first["label"] == predictor.labels()[int(proba.argmax())]


def test_an_explanation_adds_up_and_uses_scorings_values(heads):
    predictor = neuronhead.load(heads / "k2")
    head = predictor.scorer.heads["k2"]
    text = "I am so happy today, what a wonderful surprise!"
    e = predictor.explain(text, top=10**6)  # every neuron
    assert len(e["neurons"]) == head.n_neurons_
    assert e["label"] == predictor.predict([text])[0]
    assert e["method"].startswith("integrated gradients")  # the default head has a hidden layer
    shares = sum(n["contribution"] for n in e["neurons"])
    assert e["baseline"] + shares + e["residual"] == pytest.approx(e["output"], abs=1e-9)
    assert abs(e["residual"]) < 1e-3 * max(1.0, abs(e["output"] - e["baseline"]))
    # The pooled values are scoring's, and the explained output is the head's logit on them.
    feats = predictor.scorer.compute(predictor._tokenized([text])).outputs
    values = {}
    for n in e["neurons"]:
        layer, idx = (int(x) for x in n["neuron"][1:].split(".N"))
        col = int(np.flatnonzero(predictor.scorer.neurons[layer] == idx)[0])
        np.testing.assert_allclose([n["mean"], n["max"]], feats[layer][0, :, col], atol=1e-5)
        assert n["tokens"] and n["tokens"][0][1] == pytest.approx(n["max"], abs=1e-5)
    for layer, pos in predictor.scorer.positions["k2"].items():
        values[layer] = feats[layer][:, :, pos]
    logits = head.decision_values(values)[0]
    assert e["output"] == pytest.approx(float(logits.max()), abs=1e-4)
    assert e["explained"] == f"logit of {e['label']}"


def test_explanations_answer_by_head_and_refuse_what_score_refuses(heads):
    both = neuronhead.load(f"a={heads / 'k1'}", f"b={heads / 'k2'}")
    found = both.explain("ok then", top=3)
    assert set(found) == {"a", "b"} and all(len(f["neurons"]) == 3 for f in found.values())
    assert {n["neuron"].split(".")[0] for n in found["a"]["neurons"]} == {"L0"}  # k1 stops after layer 0
    with pytest.raises(PredictError, match="text 0: empty text"):
        both.explain("")
    with pytest.raises(PredictError, match="not a string"):
        both.explain(None)


def test_explain_refuses_a_top_that_is_not_a_count_of_neurons(heads, capsys):
    predictor = neuronhead.load(heads / "k1")
    for top in (-1, 0):
        with pytest.raises(ValueError, match=f"top must be a whole number of neurons, at least 1, not {top}"):
            predictor.explain("what a day", top=top)
    argv = ["explain", "--head", str(heads / "k1"), "--text", "what a day", "--top", "-1"]
    assert main(argv) == 2
    assert "neuronhead explain: error: top must be" in capsys.readouterr().err


def test_the_explanation_table_adds_up_to_its_output_and_says_what_it_shows(heads, tmp_path):
    """Listed shares + the other neurons' + the residual + the baseline = the output, in the record and in
    the printed share column; the table says what ``probe`` is, does not call a negative activation
    firing, and a head named ``head`` is not "head head" (nor in predict_values' refusal)."""
    shutil.copytree(heads / "k1", tmp_path / "head")  # the default name: its folder's
    predictor = neuronhead.load(tmp_path / "head")
    n_neurons = predictor.scorer.heads["head"].n_neurons_
    e = predictor.explain("what a day!", top=20)
    listed = sum(n["contribution"] for n in e["neurons"])
    assert e["other"]["neurons"] == n_neurons - 20
    total = listed + e["other"]["contribution"] + e["residual"] + e["baseline"]
    assert total == pytest.approx(e["output"], abs=1e-9)
    lines = explanation_lines("head", e)
    table = "\n".join(lines)
    assert "head head" not in table and "fired most" not in table
    assert "probe: " in table  # the legend says what the column is
    rows = {line[4:24].strip(): line for line in lines if _number(line[24:32]) is not None}
    shares = [float(line[24:32]) for label, line in rows.items() if not label.startswith("=")]
    stated = float(rows["= output"][24:32])
    assert len(shares) == 20 + 3  # the listed neurons, the other ones, the residual, the baseline
    assert sum(shares) == pytest.approx(stated, abs=0.0005 * len(shares))
    assert stated == pytest.approx(e["output"], abs=0.0005)
    assert f"other {e['other']['neurons']} neurons" in rows
    for n in e["neurons"]:  # a neuron below 0 at every pooled token did not fire: the row says so
        assert ("none above 0" in rows[n["neuron"]]) == (n["max"] <= 0)
    assert any(n["max"] <= 0 for n in e["neurons"])  # the case is there to check
    with pytest.raises(TypeError, match="use predict or predict_proba") as refused:
        predictor.predict_values(["a text"])
    assert "head head" not in str(refused.value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
