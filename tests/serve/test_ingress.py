"""One ``neuronhead serve`` with two model replicas: a request whose model replica is killed under it
is answered by the other."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from neuronhead.serve.options import Limits, Serving
from tests.serve.http import call, free_port

pytestmark = pytest.mark.slow
BODY = json.dumps({"texts": ["what a day!", "not again"]}).encode()


@pytest.fixture(scope="module")
def url(demo_heads):
    from ray import serve

    from neuronhead.serve.server import start

    serving = Serving(port=free_port(), replicas=2)
    yield start([f"k2={demo_heads / 'k2'}"], limits=Limits(max_texts=16), serving=serving)
    serve.shutdown()


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
            answers.append(call(f"{url}/predict", "POST", body, timeout=120)[0])

    with ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(client)
        time.sleep(3)
        os.kill(pids[0], signal.SIGKILL)
        time.sleep(3)
        stop.set()
    assert len(answers) > 16 and set(answers) == {200}, answers
