"""Security: nothing is unpickled, no model code runs unasked, the dashboard stays on loopback,
heads are tied to their model, and manifest entries cannot lead outside their folder.

Every planted payload, if it ever ran, would create a marker file; each test asserts it does not exist.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pyarrow as pa
import pytest

from neuronhead.cli import main
from neuronhead.heads.artifact import HeadError, load_head
from neuronhead.models.loading import bundled_model_path, load_model
from neuronhead.store import load_features, read_manifest
from tests.paths import DEMO, REPO


class Payload:
    """Unpickling this creates ``marker`` (what an attacker's pickle would do, minus the harm)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _plant(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps(Payload(marker)))


def test_a_pickle_planted_in_a_head_folder_is_never_executed(small_head, tmp_path, record):
    head = tmp_path / "head"
    shutil.copytree(small_head, head)
    marker = tmp_path / "PWNED"
    for name in ("head.pkl", "pytorch_model.bin", "model.pt", "probes.pkl", "state.joblib"):
        _plant(head / name, marker)
    load_head(head)
    assert main(["score", "--head", str(head), "--data", str(DEMO / "val.csv"),
                 "--out", str(tmp_path / "out"), "--engine", "local"]) == 0  # fmt: skip
    assert not marker.exists()
    _plant(head / "head.safetensors", marker)  # the pickle posing as the weights file
    with pytest.raises(HeadError, match="head.safetensors") as err:
        load_head(head)
    assert not marker.exists()
    record(
        "security",
        "pickles planted in a head folder (head.pkl, pytorch_model.bin, …) and as head.safetensors",
        "never unpickled (marker absent); the planted head.safetensors is refused: "
        f"`{type(err.value).__name__}`",
    )


def test_a_pickle_planted_as_a_feature_shard_is_never_executed(small_head, tmp_path, record):
    features = small_head.parent / "val"
    copy = tmp_path / "val"
    shutil.copytree(features, copy)
    marker = tmp_path / "PWNED"
    _plant(copy / "shards" / "shard-00099.parquet", marker)
    with pytest.raises(pa.ArrowInvalid, match="(?i)parquet") as err:
        load_features(copy)
    assert not marker.exists()
    why = type(err.value).__name__
    record(
        "security", "a pickle planted as a feature shard", f"read fails as Parquet (`{why}`), never unpickled"
    )


def test_model_folders_load_safetensors_only_and_no_remote_code(tmp_path, record):
    marker = tmp_path / "PWNED"
    bundled = bundled_model_path()
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    for f in bundled.iterdir():
        if f.is_file() and not f.name.endswith(".safetensors"):
            shutil.copy(f, pickled / f.name)
    _plant(pickled / "pytorch_model.bin", marker)
    with pytest.raises(OSError, match="safetensors") as err1:
        load_model(pickled)
    assert not marker.exists()

    remote = tmp_path / "remote"
    shutil.copytree(bundled, remote)
    config = json.loads((remote / "config.json").read_text())
    config.update(
        model_type="evil-bert", auto_map={"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
    )
    (remote / "config.json").write_text(json.dumps(config))
    (remote / "evil.py").write_text(f"import os\nos.mkdir({str(marker)!r})\n")
    with pytest.raises(ValueError, match="trust_remote_code"):
        load_model(remote)
    assert not marker.exists()
    record("security", "model folder with only a pickled pytorch_model.bin",
           f"refused: `{str(err1.value).splitlines()[0][:140]}`")  # fmt: skip
    record("security", "model folder whose config asks for its own code (auto_map)",
           "refused without `--trust-remote-code` (transformers' check); the code never ran")  # fmt: skip


@pytest.mark.slow
def test_the_local_dashboard_listens_on_loopback_only(tmp_path, record):
    code = textwrap.dedent("""
        import json, time, ray
        from neuronhead.cluster.connect import ensure_ray
        ensure_ray(num_cpus=1, dashboard=True)
        print(json.dumps({"url": ray.get_runtime_context().gcs_address}), flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    try:
        proc.stdout.readline()
        import time

        listeners = {}
        for _ in range(100):  # the dashboard comes up a little after ray.init returns
            procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            for p in procs:
                try:
                    name = " ".join(p.cmdline())[:200]
                    for c in p.net_connections(kind="tcp"):
                        if c.status == psutil.CONN_LISTEN:
                            listeners[(c.laddr.ip, c.laddr.port)] = name
                except psutil.Error:
                    pass
            if any("dashboard" in n for n in listeners.values()):
                break
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()
    dash = {addr for addr, n in listeners.items() if "dashboard/dashboard.py" in n}
    assert dash, listeners
    http = [a for a in dash if a[1] == 8265] or sorted(dash)
    assert all(ip == "127.0.0.1" for ip, _ in dash), dash
    wild = sorted({f"{ip}:{port}" for ip, port in listeners if ip in ("0.0.0.0", "::")})
    record(
        "security",
        "local Ray started with its dashboard on",
        f"dashboard listens on {', '.join(f'{ip}:{port}' for ip, port in sorted(http))} only; "
        + (f"other Ray services bound to all interfaces: {', '.join(wild)}" if wild else
           "no Ray service listens on all interfaces"),
    )  # fmt: skip


def test_a_head_is_refused_with_another_model_unless_forced(
    small_head, tiny_models, tmp_path, capsys, record
):
    args = ["score", "--head", str(small_head), "--data", str(DEMO / "val.csv"),
            "--model", str(tiny_models["bert"]), "--engine", "local"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--force" in err and not (tmp_path / "a" / "shards").exists()
    record(
        "security",
        "head scored with a model whose weights hash differs",
        f"refused: `{err.split('error: ')[1]}`",
    )


def test_manifest_entries_cannot_lead_outside_their_folder(small_head, tmp_path, record):
    features = tmp_path / "val"
    shutil.copytree(small_head.parent / "val", features)
    manifest = json.loads((features / "manifest.json").read_text())
    for evil in ("../../etc/passwd", "/etc/passwd", "shards/../../x.parquet", ""):
        manifest["shards"][0]["file"] = evil
        (features / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(ValueError, match="points outside"):
            read_manifest(features)
    out = tmp_path / "scores"
    assert main(["score", "--head", str(small_head), "--data", str(DEMO / "val.csv"),
                 "--out", str(out), "--engine", "local"]) == 0  # fmt: skip
    m = json.loads((out / "manifest.json").read_text())
    m["shards"][0]["file"] = "../../../tmp/elsewhere.parquet"
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="points outside"):
        read_manifest(out)
    record("security", "manifest shard entries pointing outside the folder (../, absolute)",
           "refused when the manifest is read, before any file is opened")  # fmt: skip
