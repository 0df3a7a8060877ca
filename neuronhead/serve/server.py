"""``neuronhead serve``: start (or join) Ray, deploy the heads, print the URL, block until Ctrl-C."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence

from neuronhead.serve.options import Batching, Ingress, Limits, LocalRay, Serving

APP_NAME = "neuronhead"


def local_serving(serving: Serving, cpus: int | None = None) -> Serving:
    """On a local Ray of ``cpus`` CPUs, replicas that would ask for more than there is share them:
    a replica waiting for a CPU that never frees would leave the endpoint half deployed, silently."""
    cpus = cpus or os.cpu_count() or 1
    if serving.replicas * serving.replica_cpus <= cpus:
        return serving
    return dataclasses.replace(serving, replica_cpus=cpus / serving.replicas)


class _AppliedAlready(logging.Filter):
    """Drops Ray's "New http_options/controller_options will not be applied" when ``serve.run`` finds
    the Serve that ``serve.start`` has just started with our options: Ray says it on every such call,
    and here it is false (a Serve already running on a cluster still gets it from ``serve.start``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will not be applied" not in record.getMessage()


def start(
    heads: Sequence[str],
    model: str | None = None,
    address: str | None = None,
    limits: Limits = Limits(),
    batching: Batching = Batching(),
    serving: Serving = Serving(),
    ingress: Ingress = Ingress(),
    local: LocalRay = LocalRay(),
) -> str:
    """Deploy the heads on Ray Serve and return the URL. Without ``address``: a fresh local Ray
    (dashboard off, everything on 127.0.0.1, its metrics on ``local.metrics_port``); the HTTP proxy
    binds ``serving.host`` only. A key file that cannot serve is refused before Ray starts."""
    from ray import serve

    from neuronhead.cluster.connect import ensure_ray
    from neuronhead.cluster.engines import joins_cluster
    from neuronhead.serve.app import application

    check_key_file(ingress)
    joins = joins_cluster(address)
    if joins and local.metrics_port:
        raise ValueError("--metrics-port sets the port of a Ray serve starts; on a cluster it is each "
                         "node's `ray start --metrics-export-port`")  # fmt: skip
    ensure_ray(address, metrics_export_port=local.metrics_port or None)
    if not joins:
        serving = local_serving(serving)
    serve.start(http_options={"host": serving.host, "port": serving.port})
    app = application(list(heads), model, limits, batching, serving, ingress)
    quiet, serve_log = _AppliedAlready(), logging.getLogger("ray.serve")
    serve_log.addFilter(quiet)
    try:
        serve.run(app, name=APP_NAME, route_prefix="/")
    finally:
        serve_log.removeFilter(quiet)
    host = f"[{serving.host}]" if ":" in serving.host else serving.host
    return f"http://{host}:{serving.port}"


def check_key_file(ingress: Ingress) -> None:
    """Refuse a key file that is missing, unreadable or holds no key (naming the file); say on stderr
    when every user may read it (it is served anyway)."""
    from neuronhead.serve.auth import read_keys

    if ingress.api_key_file:
        warning = read_keys(ingress.api_key_file).warning
        if warning:
            print(f"neuronhead serve: warning: {warning}", file=sys.stderr, flush=True)


def metrics_url() -> str | None:
    """Where this machine's Ray node serves Prometheus metrics (``/metrics`` on its export port)."""
    import ray

    here = ray.get_runtime_context().get_node_id()
    for node in ray.nodes():
        if node["NodeID"] == here and node.get("MetricsExportPort"):
            return f"http://{node['NodeManagerAddress']}:{node['MetricsExportPort']}/metrics"
    return None


def stop_on_signals() -> None:
    """SIGINT and SIGTERM both stop the server cleanly: SIGTERM is how a process manager or a
    container runtime asks, and without this Ray's own handler aborts the process (core dump,
    Ray's agents left behind); a shell also starts background jobs with SIGINT ignored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


def serve_until_interrupted(url: str, heads: Sequence[str], address: str | None = None) -> None:
    """Print where the endpoint is, keep it up until Ctrl-C, then take it down: the application
    first (its replicas finish what they hold), then, unless joined to a cluster, the local Ray.
    Not ``serve.shutdown``: its controller kills itself under the call that asked, and Ray prints
    that call as failed ("graceful_shutdown failed ... will be retried")."""
    import ray
    from ray import serve

    stop_on_signals()  # again: starting Ray put its own SIGTERM handler in
    paths = "POST /predict, GET /heads, GET /healthz"
    print(f"serving {', '.join(heads)} at {url} ({paths}); Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        serve.delete(APP_NAME)
        if not address:
            ray.shutdown()
