"""``neuronhead serve`` over HTTP: one Serve app for the module (two heads on the demo set), every bad
request with its status code, and predictions equal to ``Predictor.records`` for the same texts."""

from __future__ import annotations

import csv
import json
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import neuronhead
from neuronhead.serve.options import Batching, Limits
from tests.paths import DEMO
from tests.serve.http import call, free_port, predict

pytestmark = pytest.mark.slow
LIMITS = Limits(max_texts=16, max_body_bytes=600_000)


@pytest.fixture(scope="module")
def heads(demo_heads):
    return demo_heads


@pytest.fixture(scope="module")
def url(heads):
    from ray import serve

    from neuronhead.serve.options import Serving
    from neuronhead.serve.server import start

    specs = [f"k1={heads / 'k1'}", f"k2={heads / 'k2'}"]
    yield start(specs, limits=LIMITS, batching=Batching(16, 20), serving=Serving(port=free_port()))
    serve.shutdown()


@pytest.fixture(scope="module")
def predictor(heads):
    return neuronhead.load(f"k1={heads / 'k1'}", f"k2={heads / 'k2'}")


def val_texts(n: int) -> list[str]:
    with open(DEMO / "val.csv", newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)][:n]


def same(got: list[dict], expected: list[dict]) -> None:
    """Records equal: labels, flags and errors exactly, probabilities to 1e-5."""
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert (g["truncated"], g["error"], set(g["heads"])) == (e["truncated"], e["error"], set(e["heads"]))
        for name, head in e["heads"].items():
            assert g["heads"][name]["label"] == head["label"]
            assert list(g["heads"][name]["probabilities"]) == list(head["probabilities"])
            np.testing.assert_allclose(
                list(g["heads"][name]["probabilities"].values()),
                list(head["probabilities"].values()),
                # Serve batches texts otherwise than records(): other padding, other float32 sums
                atol=1e-5,
            )


def test_health_and_heads(url, predictor):
    assert call(f"{url}/healthz") == (200, {"status": "ok"})
    status, body = call(f"{url}/heads")
    assert status == 200
    assert set(body["heads"]) == {"k1", "k2"}
    assert body["heads"]["k1"] == {
        "task": "classification",
        "labels": predictor.labels("k1"),
        "deepest_layer": 0,
    }
    assert body["heads"]["k2"]["deepest_layer"] == 1 and body["depth"] == 1
    sha = predictor.heads.blobs[0].record.model.weights_sha256
    assert body["model"]["weights_sha256"] == sha and len(sha) == 64
    assert body["max_length"] == predictor.capture.max_length
    assert body["limits"] == {"max_texts": 16, "max_body_bytes": 600_000}


def test_predictions_equal_the_predictor_for_both_heads(url, predictor):
    texts = val_texts(16)
    status, body = predict(url, texts)
    assert status == 200
    same(body["results"], predictor.records(texts))
    assert all("explanation" not in r for r in body["results"])


def test_concurrent_requests_are_split_back_in_order(url, predictor):
    """Requests arriving together are batched into one pass; each gets its own texts' answers."""
    texts = val_texts(60)
    chunks = [texts[i : i + 1 + i % 5] for i in range(0, 48, 4)]
    with ThreadPoolExecutor(len(chunks)) as pool:
        answers = list(pool.map(lambda c: predict(url, c), chunks))
    expected = predictor.records(texts)
    for (i, chunk), (status, body) in zip(zip(range(0, 48, 4), chunks, strict=True), answers, strict=True):
        assert status == 200
        same(body["results"], expected[i : i + len(chunk)])


BAD = {
    "empty list": (b'{"texts": []}', 422, '"texts" is empty'),
    "a text that is a number": (b'{"texts": ["fine", 7]}', 422, "text 1 is not a string but a number"),
    "texts not a list": (b'{"texts": "one"}', 422, "must be a list of strings"),
    "more texts than --max-texts": (json.dumps({"texts": ["a"] * 17}).encode(), 413, "(--max-texts)"),
    "body over --max-body-bytes": (json.dumps({"texts": ["a" * 700_000]}).encode(), 413, "--max-body-bytes"),
    "invalid UTF-8": (b'{"texts": ["caf\xe9"]}', 400, "not valid UTF-8"),
    "invalid JSON": (b'{"texts": ["a",', 400, "not valid JSON"),
    "JSON nested 100,000 deep": (b'{"texts": ' + b"[" * 100_000, 400, "nests too deeply"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_request_gets_its_status_and_reason(url, case, record):
    body, status, reason = BAD[case]
    got = call(f"{url}/predict", "POST", body)
    assert got[0] == status and reason in got[1]["error"], got
    assert call(f"{url}/healthz") == (200, {"status": "ok"})
    record("bad input", f"serve: {case}", f"HTTP {got[0]}: `{got[1]['error'][:90]}`", 1, 0)


def test_head_answers_where_get_does_without_a_body(url):
    """Load balancers probe with HEAD: it answers as GET would, with no body."""
    assert call(f"{url}/healthz", "HEAD") == (200, "")
    assert call(f"{url}/heads", "HEAD") == (200, "")
    assert call(f"{url}/predict", "HEAD")[0] == 405


def test_the_replica_header_is_an_opaque_tag(url):
    """Which replica answered, for telling replicas apart, without its process id: the same short
    hex tag on every answer of the one replica."""
    tags = set()
    for _ in range(3):
        with urllib.request.urlopen(f"{url}/healthz", timeout=60) as response:
            tags.add(response.headers["x-neuronhead-replica"])
    (tag,) = tags
    assert re.fullmatch(r"[0-9a-f]{12}", tag), tag


def test_wrong_paths_and_methods(url):
    status, body = call(f"{url}/nowhere")
    assert status == 404 and "paths: /predict" in body["error"]
    assert call(f"{url}/predict")[0] == 405
    assert call(f"{url}/healthz", "POST", b"{}")[0] == 405
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(f"{url}/heads", method="PUT"), timeout=60)
    assert refused.value.headers["Allow"] == "GET, HEAD"
    assert call(f"{url}/heads", "DELETE")[0] == 405


def test_odd_texts_are_scored(url, predictor, record):
    texts = [
        "x " * 50_000,
        "what a day! 🎉👩‍👩‍👧",
        "nul\x00inside",
        "שלום עולם, מה שלומך?",
        "مرحبا بالعالم",
        "",
    ]
    status, body = predict(url, texts)
    assert status == 200
    results = body["results"]
    assert len(texts[0]) == 100_000 and results[0]["truncated"] is True
    assert [r["error"] for r in results] == [None] * 5 + ["empty text"]
    assert results[5]["heads"] == {}
    same(results, predictor.records(texts))
    outcome = "HTTP 200, all answered; the long text marked truncated, the empty one `empty text`"
    record("bad input", "serve: 100k-character text, emoji, NUL, right-to-left, empty", outcome, 6, 6)


def close(got, expected) -> None:
    """JSON values equal, floats to 1e-5 of their size (two processes, the same texts: the replica's torch
    threads are Ray's, not this process's, so float32 sums may round otherwise)."""
    if isinstance(expected, dict):
        assert list(got) == list(expected)
        for key in expected:
            close(got[key], expected[key])
    elif isinstance(expected, list | tuple):
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            close(g, e)
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)  # float32 spacing at 4 is 4.8e-7
    else:
        assert got == expected


def test_explain_when_asked(url, predictor):
    texts = ["what a lovely day, I love it", ""]
    status, body = predict(url, texts, explain=3)
    assert status == 200
    first, empty = body["results"]
    assert set(first["explanation"]) == {"k1", "k2"}
    assert all(len(e["neurons"]) <= 3 for e in first["explanation"].values())
    close(first["explanation"], json.loads(json.dumps(predictor.explanations(texts[0], top=3))))
    assert first["explanation"]["k1"]["label"] == first["heads"]["k1"]["label"]
    assert empty["error"] == "empty text" and empty["explanation"] is None


def test_a_chunked_body_over_the_limit_is_refused_while_read(url):
    """No Content-Length to refuse on: the replica stops reading at the limit (5 MB sent, 600 kB limit)."""
    import http.client

    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    chunks = (b'{"texts": ["' + b"a" * 1_000_000 if i == 0 else b"a" * 1_000_000 for i in range(5))
    conn.request("POST", "/predict", body=chunks, encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 413
    assert "over the limit of 600000 bytes" in json.loads(response.read())["error"]
    conn.close()
    assert call(f"{url}/healthz") == (200, {"status": "ok"})
