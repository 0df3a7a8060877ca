"""The run report on the demo set, rendered in headless Chromium: figures load, tables show.

Needs Debian's ``chromium``: ``bash scripts/test.sh`` installs it when run as root with apt-get.
The report itself has no script; the test adds one to a copy, which writes what the browser
rendered into the page for ``--dump-dom``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # the demo job runs first: half a minute
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]  # fmt: skip
PROBE = """<pre id="nh-check"></pre><script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  document.getElementById("nh-check").textContent = JSON.stringify({
    images: imgs.map(i => ({ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth, shown: i.width,
                            alt: i.alt})),
    tables: [...document.querySelectorAll("table")].map(t => t.rows.length),
    headings: [...document.querySelectorAll("h2")].map(h => h.textContent),
    text: document.body.innerText.length,
    height: document.documentElement.scrollHeight,
  });
});
</script>"""


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail(
            "headless Chromium is needed to check the report: `sudo apt-get install chromium` "
            "(bash scripts/test.sh does it when run as root), or deselect with -m 'not browser'"
        )
    return exe


def _browser(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [exe, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo_run(interrupted_then_finished):
    """The demo job (train, val, a collection to score) that the run tests also read: every section
    has its figures, and the job runs once for both."""
    done = interrupted_then_finished["second"]
    assert done.returncode == 0, done.stderr[-3000:]
    return interrupted_then_finished["out"]


def test_the_demo_report_renders_with_its_figures_and_tables(demo_run, tmp_path):
    exe = _chromium()
    page = (demo_run / "report.html").read_text()
    check = tmp_path / "check.html"
    check.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = _browser(exe, tmp_path / "p1", "--virtual-time-budget=10000", "--dump-dom", check.as_uri())
    found = re.search(r'<pre id="nh-check">(.*?)</pre>', dom.stdout, re.S)
    assert found and found.group(1), dom.stderr[-2000:]
    seen = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))

    md = (demo_run / "report.md").read_text()
    assert len(seen["images"]) == md.count("![") >= 6
    assert all(i["ok"] and i["w"] >= 300 and i["shown"] >= 300 for i in seen["images"]), seen["images"]
    alts = " ".join(i["alt"] for i in seen["images"])
    for figure in (
        "single-layer probes",
        "layers 0..k",
        "salient neurons",
        "true label",
        "tokens",
        "label shares",
    ):
        assert figure in alts
    assert len(seen["tables"]) >= 10 and min(seen["tables"]) >= 2  # header + at least one row each
    for heading in (
        "Data",
        "Results against the baselines",
        "Layers",
        "Salient neurons",
        "Confusion matrix",
        "What the salient neurons respond to",
        "Times and throughput",
    ):
        assert heading in seen["headings"]
    report = json.loads((demo_run / "head" / "report.json").read_text())
    assert f"{report['val']['macro_f1']:.2f}" in page  # the page shows the measured figure
    for label in ("negative", "neutral", "positive"):
        assert f"<p><b>{label}</b></p>" in page  # a neuron section per class

    shot = tmp_path / "report.png"
    height = min(int(seen["height"]) + 50, 16000)
    r = _browser(
        exe,
        tmp_path / "p2",
        f"--window-size=1280,{height}",
        f"--screenshot={shot}",
        (demo_run / "report.html").as_uri(),
    )
    assert shot.is_file(), r.stderr[-2000:]
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (height, 1280)
    ink = (pixels.min(axis=2) < 200).mean()  # text, table rules, plot lines
    colour = ((pixels.max(axis=2) - pixels.min(axis=2)) > 80).mean()  # the plots' colours
    assert ink > 0.02 and colour > 0.002, (ink, colour)
    rows_with_ink = (pixels.min(axis=2) < 200).any(axis=1)
    assert rows_with_ink[: height // 2].mean() > 0.3 and rows_with_ink[height // 2 :].mean() > 0.3
    shutil.copy(shot, demo_run / "report-screenshot.png")  # kept beside the run for a person to look at
