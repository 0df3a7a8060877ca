"""The Ray Serve application behind ``neuronhead serve``: one deployment whose replicas each hold the
heads and their model once, and answer ``POST /predict``, ``GET /heads`` and ``GET /healthz`` (and
``HEAD`` where ``GET``, as load balancers probe).

Texts of concurrent requests are gathered with ``@serve.batch`` (counted in texts, not requests) and
go through ``Predictor.records`` together: one early-exited forward pass for every head, then split
back per request. ``build_app`` is the import path a Serve config file names.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from ray import serve
from ray.serve import Application
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from neuronhead.serve.options import Batching, Limits, Serving
from neuronhead.serve.requests import BadRequest, check_length, parse_predict

# HEAD wherever GET: load balancers probe /healthz with it
ROUTES = {"/predict": ("POST",), "/heads": ("GET", "HEAD"), "/healthz": ("GET", "HEAD")}
REPLICA_HEADER = "x-neuronhead-replica"  # which replica answered: replica_tag, the same on all its answers
log = logging.getLogger("ray.serve")


def replica_tag(replica_id: str) -> str:
    """A short hash of Serve's replica id: enough to tell replicas apart (a load test counts them),
    while clients see no process id or Ray internals."""
    return hashlib.sha256(replica_id.encode()).hexdigest()[:12]


def texts_in(requests: list[list[str]]) -> int:
    """A batch's size in texts, so ``--max-batch-size`` bounds the forward pass, not the requests."""
    return sum(len(texts) for texts in requests)


@serve.deployment(name="HeadServer", max_ongoing_requests=256)
class HeadServer:
    """Heads on one model, behind HTTP. Every refusal is a JSON ``{"error": reason}``."""

    def __init__(self, heads: list[str], model: str | None, limits: Limits, batching: Batching) -> None:
        from neuronhead.pipelines.predictor import Predictor  # torch: in the replica only

        self.limits = limits
        batch = max(batching.max_batch_size, limits.max_texts)  # a request is never split
        self.predictor = Predictor.load(heads, model=model, batch_size=batch)
        self.score_batch.set_max_batch_size(batch)
        self.score_batch.set_batch_wait_timeout_s(batching.batch_wait_ms / 1000)
        self.description = describe(self.predictor, limits)
        self.headers = {REPLICA_HEADER: replica_tag(serve.get_replica_context().replica_id.unique_id)}

    async def __call__(self, request: Request) -> JSONResponse:
        path = request.url.path.rstrip("/") or "/"
        methods = ROUTES.get(path)
        if methods is None:
            return self._json(404, {"error": f"no path {path}; paths: {', '.join(ROUTES)}"})
        if request.method not in methods:
            allowed = ", ".join(methods)
            return self._json(405, {"error": f"{path} takes {allowed}, not {request.method}"}, Allow=allowed)
        if request.method == "HEAD":  # GET's status and headers, no body
            return Response(status_code=200, headers=self.headers)
        if path == "/healthz":
            return self._json(200, {"status": "ok"})
        if path == "/heads":
            return self._json(200, self.description)
        try:
            parsed = parse_predict(await self._body(request), self.limits)
            records = await self.score_batch(parsed.texts)
            if parsed.explain:
                await asyncio.to_thread(self._explain, parsed.texts, records, parsed.explain)
        except BadRequest as exc:
            return self._json(exc.status, {"error": exc.reason})
        except Exception as exc:  # a bug, not the client's fault: say so, keep the replica up
            log.exception("predict failed")
            return self._json(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})
        return self._json(200, {"results": records})

    async def _body(self, request: Request) -> bytes:
        """The body, read no further than the limit (a declared length over it is refused unread)."""
        check_length(request.headers.get("content-length"), self.limits)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.limits.max_body_bytes:
                raise BadRequest(413, f"body is over the limit of {self.limits.max_body_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.01, batch_size_fn=texts_in)
    async def score_batch(self, requests: list[list[str]]) -> list[list[dict[str, Any]]]:
        """Every request's texts in one ``records`` call (a thread: the replica keeps answering)."""
        flat = [t for texts in requests for t in texts]
        records = await asyncio.to_thread(self.predictor.records, flat)
        out, start = [], 0
        for texts in requests:
            out.append(records[start : start + len(texts)])
            start += len(texts)
        return out

    def _explain(self, texts: list[str], records: list[dict[str, Any]], top: int) -> None:
        for text, record in zip(texts, records, strict=True):
            record["explanation"] = None if record["error"] else self.predictor.explanations(text, top=top)

    def _json(self, status: int, content: dict[str, Any], **headers: str) -> JSONResponse:
        return JSONResponse(content, status_code=status, headers=self.headers | headers)


def describe(predictor: Any, limits: Limits) -> dict[str, Any]:
    """``GET /heads``: what a client needs to read the answers and what a deployment runs."""
    heads = {}
    for name, head in predictor.scorer.heads.items():
        regression = head.task == "regression"
        heads[name] = {
            "task": head.task,
            "labels": None if regression else predictor.labels(name),
            "deepest_layer": int(head.deepest_layer_),
        }
    model = predictor.heads.blobs[0].record.model
    return {
        "heads": heads,
        "model": {"weights_sha256": model.weights_sha256, "name": model.name},
        "depth": max(h["deepest_layer"] for h in heads.values()),
        "max_length": predictor.capture.max_length,
        "limits": {"max_texts": limits.max_texts, "max_body_bytes": limits.max_body_bytes},
    }


def application(
    heads: list[str],
    model: str | None = None,
    limits: Limits = Limits(),
    batching: Batching = Batching(),
    serving: Serving = Serving(),
) -> Application:
    """The app ``serve.run`` deploys: ``serving.replicas`` replicas of ``HeadServer``."""
    return HeadServer.options(
        num_replicas=serving.replicas, ray_actor_options={"num_cpus": serving.replica_cpus}
    ).bind(list(heads), model, limits, batching)


def build_app(args: dict[str, Any]) -> Application:
    """For a Serve config file (``import_path: neuronhead.serve.app:build_app``) or ``serve run``.

    ``args``: ``heads`` (a list, or one string of comma-separated ``[NAME=]PATH``), and optionally
    ``model``, ``max_texts``, ``max_body_bytes``, ``max_batch_size``, ``batch_wait_ms``, ``replicas``,
    ``replica_cpus``. Values may be strings (``serve run ... heads=a=/x,b=/y max_texts=32``).
    """
    args = dict(args)
    heads = args.pop("heads", None)
    if not heads:
        raise ValueError("build_app needs args.heads: [NAME=]PATH, a list or comma-separated")
    heads = [h.strip() for h in heads.split(",")] if isinstance(heads, str) else list(heads)
    model = args.pop("model", None)
    groups = {}
    for group in (Limits, Batching, Serving):
        fields = {k: args.pop(k) for k in list(args) if k in group.__dataclass_fields__}
        types = {k: type(getattr(group(), k)) for k in fields}
        groups[group] = group(**{k: types[k](v) for k, v in fields.items()})
    if args:
        raise ValueError(f"build_app: unknown args {sorted(args)}")
    return application(heads, model, groups[Limits], groups[Batching], groups[Serving])
