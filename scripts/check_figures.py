"""Check the README's "Results" figures against the raw JSON that measured them.

docs/figures.toml lists every number of that section: a ``[[figure]]`` with the JSON file and key
path holding its value, a ``[[setup]]`` number (a seed or row count: an input, not a result), or a
``[[missing]]`` figure whose measurement kept no raw JSON (listed, so the gap stays visible).
``[[quoted]]`` entries are figures the docs quote and the README does not, checked the same way. Fails,
naming the line, when:

- a number in the section is in none of those lists;
- a figure's JSON value, rounded as the text is written, is not the text (a typo, or a re-run whose
  figures were not copied over);
- a listed figure no longer appears in the section, or not in the benchmarks (docs/benchmarks.md and
  the pages it lists under docs/benchmarks/, which hold each figure with its command; the index's
  "Notes without a reproducing command" do not count), or not in the other
  pages its ``also`` names (docs that quote it: a figure changed there fails too).

Numbers compare as written, thousands separators removed (1,002,000 = 1002000); signs are read from
the JSON, so "−0.22" in the text is listed as "-0.22".

    python3 scripts/check_figures.py [--readme README.md] [--benchmarks docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = "## Notes without a reproducing command"  # the page's last section; its numbers don't count
NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])\d+(?:\.\d+)?")
MIN_SEC = re.compile(r"(\d+) min (\d+) s")


def numbers(text: str) -> list[str]:
    """Every number in ``text``, thousands separators removed; digits inside words (v2, L4) are not."""
    return [m.group(0).replace(",", "") for m in NUMBER.finditer(text)]


def results_section(readme: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of the README's ``## Results`` section."""
    lines = readme.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "## Results")
    except StopIteration:
        raise SystemExit("README has no '## Results' section") from None
    out = []
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("## "):
            break
        out.append((i + 1, lines[i]))
    return out


def json_value(root: Path, fig: dict) -> float:
    """The value ``fig`` names: its JSON key path, times ``scale``; ``op`` ratio divides by ``path2``."""
    doc = json.loads((root / fig["json"]).read_text(encoding="utf-8"))

    def at(path: list) -> float:
        node = doc
        for key in path:
            node = node[key]
        return float(node)

    value = at(fig["path"])
    if fig.get("op") == "ratio":
        value /= at(fig["path2"])
    return value * float(fig.get("scale", 1.0))


def matches(text: str, value: float) -> bool:
    """Whether ``value`` written as ``text`` is (``N min S s`` for seconds, else ``text``'s decimals)."""
    if m := MIN_SEC.fullmatch(text):
        return divmod(round(value), 60) == (int(m.group(1)), int(m.group(2)))
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{value:.{decimals}f}" == text


def tokens(text: str) -> list[str]:
    """The number tokens of a listed text, unsigned, as :func:`numbers` finds them in a line."""
    return numbers(text.lstrip("-"))


def benchmark_text(index: Path) -> str:
    """The benchmarks: the index page up to its notes, then every page of its folder (``benchmarks/``)."""
    text = index.read_text(encoding="utf-8").split(f"\n{NOTES}\n")[0]
    pages = sorted(index.with_suffix("").glob("*.md"))
    return "\n".join([text] + [p.read_text(encoding="utf-8") for p in pages])


def check(readme: Path, benchmarks: Path, figures: Path | None = None, root: Path = ROOT) -> list[str]:
    """Problems, one line each (empty: every figure holds)."""
    figures = figures or root / "docs" / "figures.toml"
    listed = tomllib.loads(figures.read_text(encoding="utf-8"))
    page = benchmark_text(benchmarks)
    section = results_section(readme.read_text(encoding="utf-8"))
    in_section = {n for _, line in section for n in numbers(line)}
    entries = [f for kind in ("figure", "setup", "missing") for f in listed.get(kind, [])]
    known = {t for f in entries for t in tokens(f["text"])}
    problems = [
        f"{readme.name}:{lineno}: {n} is in none of {figures.name}'s lists: {line.strip()}"
        for lineno, line in section
        for n in numbers(line)
        if n not in known
    ]
    on_page = set(numbers(page))
    pinned = [(f, True) for f in listed.get("figure", [])] + [(f, False) for f in listed.get("quoted", [])]
    for fig, in_readme in pinned:
        text = fig["text"]
        if not matches(text, value := json_value(root, fig)):
            problems.append(f"{figures.name}: {text} is {value!r} in {fig['json']} {fig['path']}")
        for t in tokens(text):
            if in_readme and t not in in_section:
                problems.append(f"{figures.name}: {text} is no longer in {readme.name}'s Results")
            if t not in on_page:
                problems.append(f"{figures.name}: {text} is not in {benchmarks.name}")
        for page in fig.get("also", []):
            if not set(tokens(text)) <= set(numbers((root / page).read_text(encoding="utf-8"))):
                problems.append(f"{figures.name}: {text} is no longer in {page}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--benchmarks", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = ap.parse_args()
    problems = check(args.readme, args.benchmarks)
    for p in problems:
        print(p, file=sys.stderr)
    missing = tomllib.loads((ROOT / "docs" / "figures.toml").read_text(encoding="utf-8")).get("missing", [])
    for m in missing:
        print(f"no raw JSON: {m['text']} ({m['why']})", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
