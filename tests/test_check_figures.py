"""The README's results hold against their raw JSON, and the check names a planted wrong figure."""

from __future__ import annotations

import importlib.util
import json
import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_figures", ROOT / "scripts" / "check_figures.py")
check_figures = importlib.util.module_from_spec(spec)
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
