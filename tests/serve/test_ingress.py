"""One ``neuronhead serve`` with an API key and two model replicas: requests without the key are
refused, a request whose model replica is killed under it is answered by the other, and Prometheus
finds the counts on Ray's metrics port."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from neuronhead.serve.options import Ingress, Limits, Serving
from tests.serve.http import call, free_port

pytestmark = pytest.mark.slow
KEY = "nh_test_key_5c1e9b"
AUTH = {"Authorization": f"Bearer {KEY}"}
BODY = json.dumps({"texts": ["what a day!", "not again"]}).encode()


@pytest.fixture(scope="module")
def url(demo_heads, tmp_path_factory):
    from ray import serve

    from neuronhead.serve.server import start

    key = tmp_path_factory.mktemp("secret") / "api-key"
    key.write_text(f"{KEY}\n", encoding="ascii")
    key.chmod(0o600)
    serving = Serving(port=free_port(), replicas=2)
    ingress = Ingress(api_key_file=str(key))
    yield start([f"k2={demo_heads / 'k2'}"], limits=Limits(max_texts=16), serving=serving, ingress=ingress)
    serve.shutdown()


def refused(url: str, headers: dict[str, str], method: str = "GET", body: bytes | None = None):
    """(status, WWW-Authenticate, JSON body) of a request expected to fail."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=60)
    error = caught.value
    return error.code, error.headers.get("WWW-Authenticate"), json.loads(error.read())


def test_only_requests_with_the_key_get_in(url):
    no_key = refused(f"{url}/heads", {})
    assert no_key == (
        401,
        'Bearer realm="neuronhead"',
        {"error": "no API key: send the header 'Authorization: Bearer <key>'"},
    )
    wrong = refused(f"{url}/predict", {"Authorization": f"Bearer {KEY}0"}, "POST", BODY)
    assert wrong[0] == 401 and wrong[1].endswith('error="invalid_token"')
    assert KEY not in json.dumps(wrong[2])
    assert refused(f"{url}/nowhere", {})[0] == 401  # paths are not told to a client without the key
    assert call(f"{url}/healthz") == (200, {"status": "ok"})  # a load balancer's probe needs no key
    status, body = call(f"{url}/predict", "POST", BODY, headers=AUTH)
    assert status == 200 and [r["error"] for r in body["results"]] == [None, None]
    assert call(f"{url}/heads", headers=AUTH)[1]["heads"]["k2"]["deepest_layer"] == 1


def model_replica_pids() -> list[int]:
    """The live ``HeadServer`` replicas' pids, from the GCS actor table (Ray's state API,
    ``ray.util.state``, asks the dashboard, which ``neuronhead serve`` keeps off)."""
    from ray._private.state import actors

    live = [a for a in actors().values() if a["State"] == "ALIVE"]
    return sorted(a["Pid"] for a in live if a["ActorClassName"] == "ServeReplica:neuronhead:HeadServer")


def test_a_request_outlives_its_model_replica(url):
    """8 clients keep both replicas busy; one replica gets SIGKILL; every request is answered 200."""
    pids = model_replica_pids()
    assert len(pids) == 2
    texts = [f"{'so long and thanks for all the fish ' * 20}{i}" for i in range(16)]
    body = json.dumps({"texts": texts}).encode()
    answers: list[int] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            answers.append(call(f"{url}/predict", "POST", body, timeout=120, headers=AUTH)[0])

    with ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(client)
        time.sleep(3)
        os.kill(pids[0], signal.SIGKILL)
        time.sleep(3)
        stop.set()
    assert len(answers) > 16 and set(answers) == {200}, answers
    resent = scrape(lambda m: m.get("ray_neuronhead_requests_resent_total", 0) >= 1)
    assert resent["ray_neuronhead_requests_resent_total"] >= 1


def scrape(done, seconds: float = 90) -> dict[str, float]:
    """Ray's metrics for this node, summed over labels (``name{status_code="200"}`` kept apart too),
    polled until ``done(metrics)``: Ray exports them every few seconds."""
    from prometheus_client.parser import text_string_to_metric_families

    from neuronhead.serve.server import metrics_url

    where = metrics_url()
    assert where and where.startswith("http://127.0.0.1:")
    deadline = time.monotonic() + seconds
    while True:
        metrics: dict[str, float] = {}
        text = urllib.request.urlopen(where, timeout=30).read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                metrics[sample.name] = metrics.get(sample.name, 0) + sample.value
                if "status_code" in sample.labels:
                    key = f'{sample.name}{{status_code="{sample.labels["status_code"]}"}}'
                    metrics[key] = metrics.get(key, 0) + sample.value
        if done(metrics) or time.monotonic() > deadline:
            return metrics
        time.sleep(2)


def test_prometheus_finds_requests_by_status_latency_and_batch_sizes(url):
    for _ in range(3):
        assert call(f"{url}/predict", "POST", BODY, headers=AUTH)[0] == 200
    assert refused(f"{url}/predict", {}, "POST", BODY)[0] == 401
    wanted = {
        'ray_serve_num_http_requests_total{status_code="200"}': 4,  # the first test's predict too
        'ray_serve_num_http_requests_total{status_code="401"}': 4,
        "ray_serve_http_request_latency_ms_count": 8,
        "ray_neuronhead_texts_per_request_count": 4,
        "ray_serve_actual_batch_size_count": 1,  # Serve's own: texts per batch
        "ray_neuronhead_batch_requests_count": 1,
    }
    metrics = scrape(lambda m: all(m.get(name, 0) >= least for name, least in wanted.items()))
    short = {name: metrics.get(name, 0) for name, least in wanted.items() if metrics.get(name, 0) < least}
    assert short == {}
    assert metrics["ray_neuronhead_texts_per_request_sum"] >= 2 * 4
    assert "ray_serve_deployment_processing_latency_ms_bucket" in metrics
