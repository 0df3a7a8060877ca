"""Reading ``POST /predict`` bodies, without Ray: each refusal's status code and reason (quick tier)."""

from __future__ import annotations

import json

import pytest

from neuronhead.serve.options import Limits
from neuronhead.serve.requests import BadRequest, check_length, parse_predict

LIMITS = Limits(max_texts=4, max_body_bytes=1000)


def refused(body: bytes) -> tuple[int, str]:
    with pytest.raises(BadRequest) as caught:
        parse_predict(body, LIMITS)
    return caught.value.status, caught.value.reason


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b'{"texts": []}', 422, '"texts" is empty'),
        (b'{"texts": ["a", 3]}', 422, "text 1 is not a string but a number"),
        (b'{"texts": [null]}', 422, "text 0 is not a string but null"),
        (b'{"texts": "one string"}', 422, '"texts" must be a list of strings, not a string'),
        (b'["a"]', 422, "must be a JSON object"),
        (b'{"texts": ["a"], "top": 3}', 422, "unknown field 'top'"),
        (b'{"texts": ["a"], "explain": -1}', 422, '"explain" must be a whole number'),
        (b'{"texts": ["a"], "explain": true}', 422, '"explain" must be a whole number'),
        (b'{"texts": ["\\ud800"]}', 422, "text 0 holds a lone surrogate"),
        (b'{"texts": ["a", "b", "c", "d", "e"]}', 413, "5 texts is over the limit of 4 (--max-texts)"),
        (b'{"texts": ["' + b"x" * 1000 + b'"]}', 413, "over the limit of 1000 bytes (--max-body-bytes)"),
        (b'{"texts": ["caf\xe9"]}', 400, "not valid UTF-8 (byte 15)"),
        (b'{"texts": ["a"', 400, "not valid JSON"),
        (b"", 400, "not valid JSON"),
        ('{"texts": ["a"]}'.encode("utf-16"), 400, "not valid UTF-8"),
    ],
)
def test_a_bad_body_gets_its_status_and_reason(body, status, reason):
    got = refused(body)
    assert got[0] == status and reason in got[1], got


def test_a_body_that_nests_too_deeply_is_a_400_not_a_crash():
    """The JSON decoder recurses per bracket: 100,000 of them would be a RecursionError (a 500)."""
    roomy = Limits(max_body_bytes=200_000)
    for body in (b'{"texts": ' + b"[" * 100_000, b'{"texts": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"):
        with pytest.raises(BadRequest) as caught:
            parse_predict(body, roomy)
        assert caught.value.status == 400
        assert caught.value.reason == "body nests too deeply (JSON arrays or objects)"


def test_good_bodies_keep_every_text():
    texts = ["what a day! 🎉", "a\x00b", "שלום עולם", "مرحبا"]
    parsed = parse_predict(json.dumps({"texts": texts, "explain": 3}).encode(), LIMITS)
    assert parsed.texts == texts and parsed.explain == 3
    assert parse_predict(b'{"texts": [""]}', LIMITS).texts == [""]  # scored: the answer carries the error


def test_a_declared_length_over_the_limit_is_refused_unread():
    check_length(None, LIMITS)
    check_length("1000", LIMITS)
    with pytest.raises(BadRequest, match="1001 bytes") as caught:
        check_length("1001", LIMITS)
    assert caught.value.status == 413
    with pytest.raises(BadRequest) as caught:
        check_length("lots", LIMITS)
    assert caught.value.status == 400


def test_limits_refuse_nonsense():
    with pytest.raises(ValueError, match="--max-texts"):
        Limits(max_texts=0)
