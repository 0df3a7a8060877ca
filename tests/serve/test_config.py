"""The Serve config file in examples/ is valid for Ray Serve and builds the app it says (no Ray started)."""

from __future__ import annotations

import pytest
import yaml

from neuronhead.serve.options import Batching, Limits
from tests.paths import EXAMPLES


def test_the_example_config_is_a_valid_serve_config():
    from ray.serve.schema import ServeDeploySchema

    from neuronhead.serve.app import build_app

    config = yaml.safe_load((EXAMPLES / "serve.yaml").read_text(encoding="utf-8"))
    schema = ServeDeploySchema.model_validate(config)
    (app,) = schema.applications
    assert app.import_path == "neuronhead.serve.app:build_app"
    assert app.deployments[0].name == "HeadServer" and app.deployments[0].num_replicas == 2
    deployment = build_app(app.args)._bound_deployment
    assert deployment.name == "HeadServer"
    heads, model, limits, batching = deployment.init_args
    assert heads == ["sentiment=/shared/runs/sentiment/bundle"] and model is None
    assert limits == Limits(max_texts=64, max_body_bytes=1_048_576)
    assert batching == Batching(max_batch_size=64, batch_wait_ms=10)


def test_build_app_reads_strings_as_serve_run_passes_them():
    from neuronhead.serve.app import build_app

    deployment = build_app({"heads": "a=/x, b=/y", "max_texts": "8", "replicas": "3"})._bound_deployment
    assert deployment.init_args[0] == ["a=/x", "b=/y"]
    assert deployment.init_args[2].max_texts == 8 and deployment.num_replicas == 3
    with pytest.raises(ValueError, match="unknown args \\['max_text'\\]"):
        build_app({"heads": "a=/x", "max_text": 8})
    with pytest.raises(ValueError, match="needs args.heads"):
        build_app({})
