"""Every number in the README's results appears in docs/benchmarks.md, and the check catches a plant."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_figures", ROOT / "scripts" / "check_figures.py")
check_figures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_figures)


def test_readme_results_match_the_benchmarks_page():
    assert check_figures.check(ROOT / "README.md", ROOT / "docs" / "benchmarks.md") == []


def test_a_planted_mismatch_is_named(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    planted = readme.replace("## Results\n", "## Results\n\n- a head scores 99.137 on nothing.\n", 1)
    (tmp_path / "README.md").write_text(planted, encoding="utf-8")
    problems = check_figures.check(tmp_path / "README.md", ROOT / "docs" / "benchmarks.md")
    assert len(problems) == 1 and "99.137" in problems[0] and "README.md:" in problems[0]


def test_numbers_are_read_as_written():
    assert check_figures.numbers("1,002,000 rows, 27.6 min, v2 and L4, 0.95–1.12") == [
        "1002000",
        "27.6",
        "0.95",
        "1.12",
    ]


def test_a_figure_found_only_in_the_notes_does_not_count(tmp_path):
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    noted = page + "\n- a run once took 77.777 s, never reproduced.\n"
    assert check_figures.NOTES in page
    (tmp_path / "benchmarks.md").write_text(noted, encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    planted = readme.replace("## Results\n", "## Results\n\n- a run takes 77.777 s.\n", 1)
    (tmp_path / "README.md").write_text(planted, encoding="utf-8")
    problems = check_figures.check(tmp_path / "README.md", tmp_path / "benchmarks.md")
    assert len(problems) == 1 and "77.777" in problems[0]
