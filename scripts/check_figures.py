"""Check that every number in the README's "Results" section appears in docs/benchmarks.md.

The README summarises; docs/benchmarks.md holds each figure with the command that produced it. A
figure typed into the README and never measured, or left behind when the page was re-run, fails
here, naming the line; so does one found only under the page's "Notes without a reproducing
command". Numbers compare as written, thousands separators removed (1,002,000 =
1002000), so 1.04 and 1.040 differ on purpose: round in the page, then copy.

    python3 scripts/check_figures.py [--readme README.md] [--benchmarks docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = "## Notes without a reproducing command"  # the page's last section; its numbers don't count
NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])\d+(?:\.\d+)?")


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


def check(readme: Path, benchmarks: Path) -> list[str]:
    """Problems, one per README number that the benchmarks page does not contain."""
    page = benchmarks.read_text(encoding="utf-8")
    known = set(numbers(page.split(f"\n{NOTES}\n")[0]))  # what no command reproduces backs nothing
    problems = []
    for lineno, line in results_section(readme.read_text(encoding="utf-8")):
        for n in numbers(line):
            if n not in known:
                problems.append(f"{readme.name}:{lineno}: {n} is not in {benchmarks.name}: {line.strip()}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--benchmarks", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = ap.parse_args()
    problems = check(args.readme, args.benchmarks)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
