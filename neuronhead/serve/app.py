"""The Ray Serve application behind ``neuronhead serve``: ``HeadIngress`` answers ``POST /predict``,
``GET /heads`` and ``GET /healthz`` (and ``HEAD`` where ``GET``, as load balancers probe; routes, the
API key, the limits; no model) and hands each
request's texts through a ``DeploymentHandle`` to ``HeadServer``, whose replicas each hold the heads and
their model once. When the model replica holding a request dies (killed, its node gone), the ingress
sends the request again to another: a prediction is a pure function of the texts and the heads, so a
client sees a slower answer, not an error.

Texts of concurrent requests are gathered with ``@serve.batch`` (counted in texts, not requests) and
go through ``Predictor.records`` together: one early-exited forward pass for every head, then split
back per request. ``build_app`` is the import path a Serve config file names.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ray import serve
from ray.exceptions import RayActorError
from ray.serve import Application
from ray.serve.exceptions import ReplicaUnavailableError
from ray.serve.handle import DeploymentHandle
from ray.serve.metrics import Counter, Histogram
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from neuronhead.serve.auth import authorized, read_keys, refusal
from neuronhead.serve.options import Batching, Ingress, Limits, Serving
from neuronhead.serve.requests import BadRequest, check_length, parse_predict

# HEAD wherever GET: load balancers probe /healthz with it
ROUTES = {"/predict": ("POST",), "/heads": ("GET", "HEAD"), "/healthz": ("GET", "HEAD")}
REPLICA_HEADER = "x-neuronhead-replica"  # the model replica that answered (replica_tag); else the ingress
REPLICA_GONE = (RayActorError, ReplicaUnavailableError)  # the model replica died or cannot be reached
SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]  # buckets of the size histograms, in texts
log = logging.getLogger("ray.serve")


def replica_tag(replica_id: str) -> str:
    """A short hash of Serve's replica id: enough to tell replicas apart (a load test counts them),
    while clients see no process id or Ray internals."""
    return hashlib.sha256(replica_id.encode()).hexdigest()[:12]


def texts_in(requests: list[list[str]]) -> int:
    """A batch's size in texts, so ``--max-batch-size`` bounds the forward pass, not the requests."""
    return sum(len(texts) for texts in requests)


async def with_retries(call: Callable[[], Awaitable[Any]], retries: int, resent: Callable[[], None]) -> Any:
    """``call()``, made again up to ``retries`` times when the model replica that held it died (after
    0.05, 0.1, 0.2 … s, at most 1 s; Serve routes it to a live replica, or waits for a new one). Any
    other error is raised at once: a refused request never reaches the model."""
    for attempt in range(retries + 1):
        try:
            return await call()
        except REPLICA_GONE as exc:
            if attempt == retries:
                raise
            log.warning("a model replica died holding a request (%s); sending it again", type(exc).__name__)
            resent()
            await asyncio.sleep(min(0.05 * 2**attempt, 1.0))


@serve.deployment(name="HeadIngress", max_ongoing_requests=1024, ray_actor_options={"num_cpus": 0})
class HeadIngress:
    """HTTP in front of the model replicas. Every refusal is a JSON ``{"error": reason}``."""

    def __init__(self, scorer: DeploymentHandle, limits: Limits, ingress: Ingress) -> None:
        self.scorer = scorer
        self.limits = limits
        self.retries = ingress.retries
        self.keys = read_keys(ingress.api_key_file) if ingress.api_key_file else None
        if self.keys and self.keys.warning:
            log.warning(self.keys.warning)
        self.description: dict[str, Any] | None = None
        self.texts = Histogram("neuronhead_texts_per_request", "texts per POST /predict", SIZES)
        self.resent = Counter("neuronhead_requests_resent", "requests sent again: their model replica died")
        self.headers = {REPLICA_HEADER: replica_tag(serve.get_replica_context().replica_id.unique_id)}

    async def __call__(self, request: Request) -> JSONResponse:
        path = request.url.path.rstrip("/") or "/"
        if path != "/healthz" and not self._allowed(request):
            return self._unauthorized(request)
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
            return await self._heads()
        try:
            parsed = parse_predict(await self._body(request), self.limits)
            self.texts.observe(len(parsed.texts))
            tag, records = await self._send("predict", parsed.texts, parsed.explain)
        except BadRequest as exc:
            return self._json(exc.status, {"error": exc.reason})
        except REPLICA_GONE as exc:
            return self._gone(exc)
        except Exception as exc:  # a bug, not the client's fault: say so, keep the replica up
            log.exception("predict failed")
            exc = getattr(exc, "cause", None) or exc  # the model replica's own exception
            return self._json(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})
        return self._json(200, {"results": records}, **{REPLICA_HEADER: tag})

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

    def _json(self, status: int, content: dict[str, Any], **headers: str) -> JSONResponse:
        return JSONResponse(content, status_code=status, headers=self.headers | headers)

    async def _send(self, method: str, *args: Any) -> Any:
        call = getattr(self.scorer, method)
        return await with_retries(lambda: call.remote(*args), self.retries, self.resent.inc)

    async def _heads(self) -> JSONResponse:
        if self.description is None:  # the same on every model replica: asked once
            try:
                self.description = await self._send("describe")
            except REPLICA_GONE as exc:
                return self._gone(exc)
        return self._json(200, self.description)

    def _allowed(self, request: Request) -> bool:
        return self.keys is None or authorized(request.headers.get("authorization"), self.keys)

    def _unauthorized(self, request: Request) -> JSONResponse:
        reason, challenge = refusal(request.headers.get("authorization"))
        return self._json(401, {"error": reason}, **{"WWW-Authenticate": challenge})

    def _gone(self, exc: Exception) -> JSONResponse:
        reason = f"no model replica answered in {self.retries + 1} tries ({type(exc).__name__}); try again"
        return self._json(503, {"error": reason}, **{"Retry-After": "1"})


@serve.deployment(name="HeadServer", max_ongoing_requests=256)
class HeadServer:
    """The heads on one model, loaded once per replica; ``HeadIngress`` calls ``predict``."""

    def __init__(self, heads: list[str], model: str | None, limits: Limits, batching: Batching) -> None:
        from neuronhead.pipelines.predictor import Predictor  # torch: in the replica only

        batch = max(batching.max_batch_size, limits.max_texts)  # a request is never split
        self.predictor = Predictor.load(heads, model=model, batch_size=batch)
        self.score_batch.set_max_batch_size(batch)
        self.score_batch.set_batch_wait_timeout_s(batching.batch_wait_ms / 1000)
        self.description = describe(self.predictor, limits)
        # texts per batch: Serve's own ray_serve_actual_batch_size (it counts with batch_size_fn)
        self.batch_requests = Histogram("neuronhead_batch_requests", "requests per forward pass", SIZES)
        self.tag = replica_tag(serve.get_replica_context().replica_id.unique_id)

    async def predict(self, texts: list[str], explain: int = 0) -> tuple[str, list[dict[str, Any]]]:
        """This replica's tag (the answer's header) and a record per text."""
        records = await self.score_batch(texts)
        if explain:
            await asyncio.to_thread(self._explain, texts, records, explain)
        return self.tag, records

    def describe(self) -> dict[str, Any]:
        return self.description

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.01, batch_size_fn=texts_in)
    async def score_batch(self, requests: list[list[str]]) -> list[list[dict[str, Any]]]:
        """Every request's texts in one ``records`` call (a thread: the replica keeps answering)."""
        flat = [t for texts in requests for t in texts]
        self.batch_requests.observe(len(requests))
        records = await asyncio.to_thread(self.predictor.records, flat)
        out, start = [], 0
        for texts in requests:
            out.append(records[start : start + len(texts)])
            start += len(texts)
        return out

    def _explain(self, texts: list[str], records: list[dict[str, Any]], top: int) -> None:
        for text, record in zip(texts, records, strict=True):
            record["explanation"] = None if record["error"] else self.predictor.explanations(text, top=top)


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
    ingress: Ingress = Ingress(),
) -> Application:
    """The app ``serve.run`` deploys: ``serving.replicas`` replicas of ``HeadServer`` (the model) and as
    many of ``HeadIngress`` (HTTP; no CPU reserved: it only parses and forwards)."""
    scorer = HeadServer.options(
        num_replicas=serving.replicas, ray_actor_options={"num_cpus": serving.replica_cpus}
    ).bind(list(heads), model, limits, batching)
    return HeadIngress.options(num_replicas=serving.replicas).bind(scorer, limits, ingress)


def build_app(args: dict[str, Any]) -> Application:
    """For a Serve config file (``import_path: neuronhead.serve.app:build_app``) or ``serve run``.

    ``args``: ``heads`` (a list, or one string of comma-separated ``[NAME=]PATH``), and optionally
    ``model``, ``max_texts``, ``max_body_bytes``, ``max_batch_size``, ``batch_wait_ms``, ``replicas``,
    ``replica_cpus``, ``api_key_file``, ``retries``. Values may be strings (``serve run ...
    heads=a=/x,b=/y max_texts=32``).
    """
    args = dict(args)
    heads = args.pop("heads", None)
    if not heads:
        raise ValueError("build_app needs args.heads: [NAME=]PATH, a list or comma-separated")
    heads = [h.strip() for h in heads.split(",")] if isinstance(heads, str) else list(heads)
    model = args.pop("model", None)
    groups = {}
    for group in (Limits, Batching, Serving, Ingress):
        fields = {k: args.pop(k) for k in list(args) if k in group.__dataclass_fields__}
        types = {k: type(getattr(group(), k)) for k in fields}
        groups[group] = group(**{k: types[k](v) for k, v in fields.items()})
    if args:
        raise ValueError(f"build_app: unknown args {sorted(args)}")
    return application(heads, model, groups[Limits], groups[Batching], groups[Serving], groups[Ingress])
