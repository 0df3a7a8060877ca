"""The README's ``serve`` and ``curl`` lines run: the CLI starts the endpoint, curl gets an answer,
and SIGTERM (as Ctrl-C) takes it down cleanly."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys

import pytest

from tests.paths import REPO
from tests.serve.http import Output, call, free_port

pytestmark = pytest.mark.slow


def readme_lines() -> tuple[str, str]:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("### Serve it", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    serve_line, curl_line = block.strip().splitlines()
    return serve_line, curl_line


def test_the_readme_serve_and_curl_lines_run(tmp_path, demo_heads):
    heads = tmp_path
    shutil.copytree(demo_heads / "k2", heads / "emotion")  # the head's name is its folder's
    serve_line, curl_line = readme_lines()
    port = free_port()
    args = shlex.split(serve_line.replace("runs/emotion/bundle", str(heads / "emotion")))
    assert args[:2] == ["neuronhead", "serve"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "neuronhead.cli", *args[1:], "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output = Output(server)
    try:
        output.wait_for(f"at http://127.0.0.1:{port} ")
        curl = shlex.split(curl_line.replace("127.0.0.1:8000", f"127.0.0.1:{port}"))
        assert curl[0] == "curl"
        answer = json.loads(
            subprocess.run(curl, capture_output=True, text=True, check=True, timeout=60).stdout
        )
        labels = call(f"http://127.0.0.1:{port}/heads")[1]["heads"]["emotion"]["labels"]
        (result,) = answer["results"]
        assert result["error"] is None and result["truncated"] is False
        assert result["heads"]["emotion"]["label"] in labels
        assert abs(sum(result["heads"]["emotion"]["probabilities"].values()) - 1) < 1e-5
    finally:
        server.send_signal(signal.SIGTERM)  # as a process manager stops it; Ctrl-C (SIGINT) the same
        server.wait(timeout=120)
    said = output.text()
    assert "stopping" in said and "SIGTERM" not in said, said
    # a fresh start applies --port itself (Ray must not say it would not), and a stop leaves no task behind
    assert "will not be applied" not in said and "graceful_shutdown" not in said, said
    assert server.returncode == 0, said
