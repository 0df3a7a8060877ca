"""The Serve config file in examples/ is valid for Ray Serve and builds the app it says (no Ray started)."""

from __future__ import annotations

import pytest
import yaml

from neuronhead.serve.options import Batching, Ingress, Limits
from tests.paths import EXAMPLES


def test_the_example_config_is_a_valid_serve_config():
    from ray.serve.schema import ServeDeploySchema

    from neuronhead.serve.app import build_app

    config = yaml.safe_load((EXAMPLES / "serve.yaml").read_text(encoding="utf-8"))
    schema = ServeDeploySchema.model_validate(config)
    (app,) = schema.applications
    assert app.import_path == "neuronhead.serve.app:build_app"
    assert app.deployments[0].name == "HeadServer" and app.deployments[0].num_replicas == 2
    ingress = build_app(app.args)._bound_deployment
    assert ingress.name == "HeadIngress" and ingress.ray_actor_options["num_cpus"] == 0
    scorer, ingress_limits, options = ingress.init_args
    assert options == Ingress(api_key_file="", retries=3)
    deployment = scorer._bound_deployment
    assert deployment.name == "HeadServer"
    heads, model, limits, batching = deployment.init_args
    assert ingress_limits == limits
    assert heads == ["sentiment=/shared/runs/sentiment/bundle"] and model is None
    assert limits == Limits(max_texts=64, max_body_bytes=1_048_576)
    assert batching == Batching(max_batch_size=64, batch_wait_ms=10)


def test_build_app_reads_strings_as_serve_run_passes_them():
    from neuronhead.serve.app import build_app

    args = {"heads": "a=/x, b=/y", "max_texts": "8", "replicas": "3", "api_key_file": "/k", "retries": "1"}
    ingress = build_app(args)._bound_deployment
    assert ingress.init_args[2] == Ingress(api_key_file="/k", retries=1) and ingress.num_replicas == 3
    deployment = ingress.init_args[0]._bound_deployment
    assert deployment.init_args[0] == ["a=/x", "b=/y"]
    assert deployment.init_args[2].max_texts == 8 and deployment.num_replicas == 3
    with pytest.raises(ValueError, match="unknown args \\['max_text'\\]"):
        build_app({"heads": "a=/x", "max_text": 8})
    with pytest.raises(ValueError, match="needs args.heads"):
        build_app({})


@pytest.mark.slow
def test_serve_run_deploys_the_example_config(tmp_path, demo_heads):
    """Ray's own ``serve run`` on the example file, the demo head's path and a free port put in."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from tests.paths import REPO
    from tests.serve.http import Output, call, free_port, predict, wait_healthy

    heads = tmp_path
    shutil.copytree(demo_heads / "k2", heads / "sentiment")
    config = yaml.safe_load((EXAMPLES / "serve.yaml").read_text(encoding="utf-8"))
    port = config["http_options"]["port"] = free_port()
    config["applications"][0]["args"]["heads"] = [f"sentiment={heads / 'sentiment'}"]
    (tmp_path / "serve.yaml").write_text(yaml.safe_dump(config))
    ray_tmp = tempfile.mkdtemp(prefix="nh-ray-")  # short: Ray's socket paths must fit 107 bytes
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "serve"), "run", str(tmp_path / "serve.yaml")],
        env={**os.environ, "PYTHONPATH": path, "RAY_TMPDIR": ray_tmp},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a backgrounded pytest ignores it
    )  # fmt: skip
    output = Output(server)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, seconds=180)
        for _ in range(4):
            status, body = predict(url, ["what a day!"])
            assert status == 200 and body["results"][0]["heads"]["sentiment"]["label"]
        assert call(f"{url}/heads")[1]["heads"]["sentiment"]["deepest_layer"] == 1
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=120)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    said = output.text()
    assert "Imported and built app 'neuronhead' successfully" in said, said
    assert "Adding 2 replicas to Deployment(name='HeadServer'" in said, said
