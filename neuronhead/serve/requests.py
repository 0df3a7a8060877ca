"""Reading a ``POST /predict`` body: every way a body can be wrong ends here as a status code and a
reason, before any text reaches the model (no Ray, no torch: tested in the quick tier)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from neuronhead.serve.options import MAX_EXPLAIN, Limits

FIELDS = ("texts", "explain")


class BadRequest(ValueError):
    """A request refused with ``status`` (400, 413, 422) and a reason the client can act on."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class PredictRequest:
    texts: list[str]
    explain: int = 0


def check_length(content_length: str | None, limits: Limits) -> None:
    """Refuse a body whose declared length is over the limit before reading it."""
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError:
        raise BadRequest(400, f"Content-Length {content_length!r} is not a number") from None
    if declared > limits.max_body_bytes:
        raise BadRequest(413, _too_large(declared, limits))


def _too_large(size: int, limits: Limits) -> str:
    return f"body of {size} bytes is over the limit of {limits.max_body_bytes} bytes (--max-body-bytes)"


def parse_predict(body: bytes, limits: Limits) -> PredictRequest:
    """``{"texts": [str, ...], "explain": int}`` → a request, or ``BadRequest``.

    The body is decoded as strict UTF-8 first (``json.loads`` on bytes would also guess UTF-16 and
    UTF-32), so bytes that are not UTF-8 are a 400 like broken JSON or JSON nested too deeply to
    decode; a well-formed body of the wrong shape is a 422.
    """
    if len(body) > limits.max_body_bytes:
        raise BadRequest(413, _too_large(len(body), limits))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(400, f"body is not valid JSON: {exc}") from None
    except RecursionError:  # the decoder recurses per [ or {: a short body can nest past the stack
        raise BadRequest(400, "body nests too deeply (JSON arrays or objects)") from None
    if not isinstance(data, dict):
        raise BadRequest(422, f'body must be a JSON object {{"texts": [...]}}, not {_kind(data)}')
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise BadRequest(422, f"unknown field {unknown[0]!r}; fields: {', '.join(FIELDS)}")
    texts = _texts(data.get("texts"), limits)
    return PredictRequest(texts, _explain(data.get("explain", 0)))


def _texts(texts: Any, limits: Limits) -> list[str]:
    if not isinstance(texts, list):
        raise BadRequest(422, f'"texts" must be a list of strings, not {_kind(texts)}')
    if not texts:
        raise BadRequest(422, '"texts" is empty: give at least one text')
    if len(texts) > limits.max_texts:
        raise BadRequest(413, f"{len(texts)} texts is over the limit of {limits.max_texts} (--max-texts)")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise BadRequest(422, f"text {i} is not a string but {_kind(t)}")
        try:
            t.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(
                422, f"text {i} holds a lone surrogate (an unpaired \\ud800-\\udfff escape)"
            ) from None
    return texts


def _explain(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EXPLAIN:
        raise BadRequest(422, f'"explain" must be a whole number from 0 to {MAX_EXPLAIN}, not {value!r}')
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
