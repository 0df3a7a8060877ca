"""The README's results and the benchmark pages' figures hold against their raw JSON, and the check
names a planted wrong figure, an unmarked table and a missing JSON file."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_figures", ROOT / "scripts" / "check_figures.py")
check_figures = importlib.util.module_from_spec(spec)
sys.modules["check_figures"] = check_figures  # its dataclasses look their module up
spec.loader.exec_module(check_figures)
README, PAGE, FIGURES = ROOT / "README.md", ROOT / "docs" / "benchmarks.md", ROOT / "docs" / "figures.toml"


def _a_figure() -> dict:
    """A listed figure with decimals, unsigned: the one the plants below change."""
    figs = tomllib.loads(FIGURES.read_text(encoding="utf-8"))["figure"]
    return next(f for f in figs if "." in f["text"] and not f["text"].startswith("-") and "op" not in f)


def _planted(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


def test_the_readme_figures_equal_their_raw_json():
    assert check_figures.check(README, PAGE) == []


def test_a_wrong_figure_planted_in_the_readme_is_named(tmp_path):
    fig = _a_figure()
    wrong = f"{float(fig['text']) + 1.37:.{len(fig['text'].split('.')[1])}f}"
    (tmp_path / "README.md").write_text(_planted(README.read_text(encoding="utf-8"), fig["text"], wrong))
    problems = check_figures.check(tmp_path / "README.md", PAGE)
    assert any(wrong in p and "README.md:" in p for p in problems), problems
    assert any(fig["text"] in p and "no longer" in p for p in problems), problems


def _benchmarks_copy(tmp: Path) -> Path:
    """docs/benchmarks.md and its pages under ``tmp``; returns the index's path there."""
    shutil.copy(PAGE, tmp / "benchmarks.md")
    shutil.copytree(PAGE.with_suffix(""), tmp / "benchmarks")
    return tmp / "benchmarks.md"


def _page_holding(index: Path, text: str) -> Path:
    pages = sorted(index.with_suffix("").glob("*.md"))
    return next(p for p in pages if text in p.read_text(encoding="utf-8"))


def test_a_wrong_figure_planted_in_the_docs_is_named(tmp_path):
    fig = _a_figure()
    wrong = f"{float(fig['text']) + 1.37:.{len(fig['text'].split('.')[1])}f}"
    index = _benchmarks_copy(tmp_path)
    page = _page_holding(index, fig["text"])
    page.write_text(_planted(page.read_text(encoding="utf-8"), fig["text"], wrong), encoding="utf-8")
    problems = check_figures.check(README, index)
    assert any(fig["text"] in p and "benchmarks.md" in p for p in problems), problems


def test_a_raw_value_that_disagrees_with_the_text_is_named(tmp_path):
    fig = _a_figure()
    _mirror(tmp_path)
    doc = json.loads((ROOT / fig["json"]).read_text(encoding="utf-8"))
    node = doc
    for key in fig["path"][:-1]:
        node = node[key]
    node[fig["path"][-1]] = float(node[fig["path"][-1]]) + 0.5
    (tmp_path / fig["json"]).write_text(json.dumps(doc))
    problems = check_figures.check(README, PAGE, tmp_path / "docs" / "figures.toml", root=tmp_path)
    assert len(problems) >= 1 and all(fig["json"] in p for p in problems), problems


def _mirror(tmp: Path) -> None:
    """The figure list, every JSON it names and every page it pins, copied under ``tmp``."""
    listed = tomllib.loads(FIGURES.read_text(encoding="utf-8"))
    entries = listed["figure"] + listed.get("quoted", [])
    for rel in (
        {"docs/figures.toml"} | {f["json"] for f in entries} | {p for f in entries for p in f.get("also", [])}
    ):
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp / rel)


def test_a_wrong_figure_planted_in_a_page_that_quotes_it_is_named(tmp_path):
    _mirror(tmp_path)
    quoted = next(f for f in tomllib.loads(FIGURES.read_text(encoding="utf-8"))["quoted"] if f.get("also"))
    page = tmp_path / quoted["also"][0]
    page.write_text(_planted(page.read_text(encoding="utf-8"), quoted["text"], "12.34"), encoding="utf-8")
    problems = check_figures.check(README, PAGE, tmp_path / "docs" / "figures.toml", root=tmp_path)
    assert problems == [f"figures.toml: {quoted['text']} is no longer in {quoted['also'][0]}"], problems


def test_numbers_are_read_as_written():
    assert check_figures.numbers("1,002,000 rows, 27.6 min, v2 and L4, 0.95–1.12") == [
        "1002000",
        "27.6",
        "0.95",
        "1.12",
    ]
    assert check_figures.matches("27 min 36 s", 1656.4) and not check_figures.matches("27 min 36 s", 1660)
    assert check_figures.matches("-0.22", -0.2213) and not check_figures.matches("0.22", -0.2213)


def test_a_figure_found_only_in_the_notes_does_not_count(tmp_path):
    fig = _a_figure()
    index = _benchmarks_copy(tmp_path)
    assert check_figures.NOTES in index.read_text(encoding="utf-8")
    for page in [index, *index.with_suffix("").glob("*.md")]:
        page.write_text(page.read_text(encoding="utf-8").replace(fig["text"], "(moved)"), encoding="utf-8")
    index.write_text(index.read_text(encoding="utf-8") + f"\n- {fig['text']}\n", encoding="utf-8")
    problems = check_figures.check(README, index)
    assert any(fig["text"] in p and "benchmarks.md" in p for p in problems), problems


# --- The benchmark pages: every figure in a block that names its raw JSON -------------------------


def _pages_copy(tmp: Path) -> list[Path]:
    """The benchmark pages copied under ``tmp/docs`` (their JSON stays in the repository's docs/data)."""
    (tmp / "docs").mkdir()
    return check_figures.benchmark_pages(_benchmarks_copy(tmp / "docs"))


def _checked_figures(pages: list[Path]):
    """``(page, block's JSON, figure)`` for each figure with decimals checked against its block's JSON."""
    for page in pages:
        blocks, _, _ = check_figures.scan(page.read_text(encoding="utf-8"), page.name)
        for block in (b for b in blocks if b.sources):
            raw, _ = check_figures.load(block, ROOT)
            for fig in block.figures:
                if (
                    "." in fig.text
                    and not check_figures.skipped(block, fig)
                    and fig.text not in block.derived
                ):
                    yield page, raw, fig


def _wrong(fig, values: list[float]) -> str | None:
    """A value written as ``fig`` is that ``values`` do not hold."""
    decimals = len(fig.text.split(".")[1])
    for k in range(3, 300):
        wrong = f"{fig.value + k * 10.0**-decimals:.{decimals}f}"
        if not check_figures.held(values, float(wrong), fig.half, fig.unit):
            return wrong
    return None


def _plant(page: Path, line: int, old: str, new: str) -> None:
    lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
    pattern = re.compile(rf"(?<![\d.]){re.escape(old)}(?![\d])")
    assert pattern.search(lines[line - 1]), (old, lines[line - 1])
    lines[line - 1] = pattern.sub(new, lines[line - 1], count=1)
    page.write_text("".join(lines), encoding="utf-8")


def test_the_benchmark_pages_figures_equal_their_raw_json():
    problems, cov = check_figures.check_pages(check_figures.benchmark_pages(PAGE))
    assert problems == []
    assert cov.blocks >= 20 and cov.found >= 1000, cov.summary()  # the check is not vacuous


def test_a_wrong_figure_planted_in_benchmark_prose_is_named(tmp_path):
    pages = _pages_copy(tmp_path)
    page, raw, fig = next(f for f in _checked_figures(pages[1:]) if not f[2].anchors)  # a topic page
    wrong = _wrong(fig, raw.values())
    _plant(page, fig.line, fig.text, wrong)
    problems, _ = check_figures.check_pages(pages)
    where = f"{check_figures.page_name(page, ROOT)}:{fig.line}: {wrong}"
    assert any(p.startswith(where) and "is not in the JSON" in p for p in problems), problems


def test_a_figure_copied_from_another_row_of_its_json_is_named(tmp_path):
    """A table cell is looked for under its row's label and its column's header where those are keys of
    the JSON: a value from another task or model, though in the same file, fails."""
    pages = _pages_copy(tmp_path)
    page, raw, fig = next(
        f for f in _checked_figures(pages) if f[2].anchors and set(f[2].anchors) <= f[1].keys
    )
    here, decimals = raw.values(fig.anchors), len(fig.text.split(".")[1])
    wrong = next(
        f"{v:.{decimals}f}" for v in raw.values() if v > 10 and not check_figures.held(here, v, fig.half)
    )
    _plant(page, fig.line, fig.text, wrong)
    problems, _ = check_figures.check_pages(pages)
    where = f"{check_figures.page_name(page, ROOT)}:{fig.line}: {wrong} is not in the JSON"
    under = f"under {list(fig.anchors)}"
    assert any(p.startswith(where) and under in p and "elsewhere" in p for p in problems), problems


def test_an_unmarked_table_of_figures_fails(tmp_path):
    pages = _pages_copy(tmp_path)
    page = pages[-1]
    text = page.read_text(encoding="utf-8")
    table = "\n## A new measurement\n\n| run | texts/s |\n|---|---|\n| new | 123.4 |\n"
    page.write_text(text + table, encoding="utf-8")
    problems, _ = check_figures.check_pages(pages)
    line = len(text.splitlines()) + 6
    assert problems == [f"benchmarks/{page.name}:{line}: 123.4 is outside any '<!-- figures: -->' block"]


def test_a_figure_whose_json_is_missing_fails(tmp_path):
    pages = _pages_copy(tmp_path)
    shutil.copytree(ROOT / "docs" / "data", tmp_path / "docs" / "data")
    (tmp_path / "docs" / "data" / "cpu-2026-12-08" / "serve_load.json").unlink()
    problems, _ = check_figures.check_pages(pages, root=tmp_path)
    serving = (tmp_path / "docs" / "benchmarks" / "serving.md").read_text(encoding="utf-8").splitlines()
    raw = "docs/data/cpu-2026-12-08/serve_load.json"
    line = next(i for i, t in enumerate(serving, 1) if f"figures: {raw}" in t)
    assert problems == [f"docs/benchmarks/serving.md:{line}: {raw} does not exist"]
    narrowed = "<!-- figures:\n  docs/data/cpu-2026-12-07/shift.json#topic/nowhere\n-->\n\n60.13 ALL"
    assert _one_block(tmp_path, narrowed) == [
        "page.md:3: docs/data/cpu-2026-12-07/shift.json#topic/nowhere: no key 'nowhere'"
    ]


def _one_block(tmp: Path, body: str) -> list[str]:
    page = tmp / "page.md"
    page.write_text(f"# A page\n\n{body}\n", encoding="utf-8")
    return [p.removeprefix(f"{tmp.name}/") for p in check_figures.check_pages([page])[0]]


def test_derived_figures_setup_numbers_and_intervals_are_checked(tmp_path):
    good = (
        "<!-- figures: docs/data/cpu-2026-12-07/honest_table.json -->\n"
        "<!-- setup: 1,000 (replicates) -->\n<!-- derived: 1.025 = 63.46 / 61.94 -->\n\n"
        "ALL 63.46 [62.0, 64.8] against 61.94, 1.025 times, over 1,000 replicates."
    )
    assert _one_block(tmp_path, good) == []
    assert _one_block(tmp_path, good.replace("/ 61.94 -->", "/ 62.94 -->")) == [
        "page.md:5: 62.94, in the arithmetic of 1.025: not in the JSON",
        "page.md:7: 1.025 is 1.00826 by its derivation",
    ]
    # 63.5 rounds from the shipped score itself (63.458), not from a bound of its interval
    assert _one_block(tmp_path, good.replace("[62.0, 64.8]", "[62.0, 63.5]")) == [
        "page.md:7: 63.46 [62.0, 63.5] is not one interval: no one object holds all three"
    ]
    assert _one_block(tmp_path, good.replace(", over 1,000 replicates", "")) == [
        "page.md:4: setup: 1000 is not in its block"
    ]


def test_a_none_block_must_say_why_and_its_figures_are_counted(tmp_path):
    assert _one_block(tmp_path, "<!-- figures: none -->\n\n12.5 s") == ["page.md:3: 'none' without (why)"]
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n<!-- figures: none (a one-off run) -->\n\n12.5 s and 33.1 s\n", encoding="utf-8"
    )
    problems, cov = check_figures.check_pages([page])
    assert problems == [] and cov.none == [f"{tmp_path.name}/page.md:3: a one-off run (2 figures)"]
    assert cov.in_none == 2 and cov.blocks == 0


def test_figures_are_read_as_written_in_the_pages():
    line = (
        "| 1,002,000 rows | 27 min 36 s (624 texts/s), 2.46 GiB, 0.34–0.53% | `--n 2000` 2026-11-26 "
        "v2 L4 GPT-2 4f092c0 @0..5 [x](../data/a_5k.json) 3 rounds 1.1e-6 1.78× |"
    )
    found = [(f.text, f.unit) for f in check_figures.figures_in(line)]
    assert found == [
        ("27 min 36 s", None),
        ("1002000", None),
        ("624", None),
        ("2.46", "GiB"),
        ("0.34", "%"),
        ("0.53", "%"),
        ("1.1e-6", None),
        ("1.78", "×"),
    ]
    assert check_figures.held([0.0034], 0.34, 0.005, "%") and not check_figures.held([0.0034], 0.34, 0.005)
