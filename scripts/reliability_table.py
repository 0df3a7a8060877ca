"""Render the reliability suite's log as the table in docs/reliability.md (between its markers).

    NEURONHEAD_RELIABILITY_OUT=/tmp/rel ../shared/bin/loopback-only \\
        .venv/bin/python -m pytest tests/reliability
    .venv/bin/python scripts/reliability_table.py /tmp/rel/reliability.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
ORDER = {"bad input": 0, "fault": 1, "security": 2, "determinism": 3}


def _clean(text: str) -> str:
    """Test-run paths and hashes say nothing to a reader: shorten them."""
    text = re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+/[^/ ]+/", "", text)
    return re.sub(r"\b([0-9a-f]{12})[0-9a-f]{52}\b", r"\1…", text)


def table(rows: list[dict]) -> str:
    lines = ["| kind | case | what happened | rows in | rows out |", "|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: ORDER.get(r["kind"], 9)):
        cells = [r["kind"], r["case"], _clean(r["outcome"]), r["rows_in"], r["rows_out"]]
        text = ("–" if c is None else str(c).replace("|", "\\|") for c in cells)
        lines.append("| " + " | ".join(text) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    rows = json.loads(Path(sys.argv[1]).read_text())
    text = DOC.read_text()
    pattern = r"(<!-- table -->\n).*?(<!-- /table -->)"
    new = re.sub(pattern, lambda m: m.group(1) + table(rows) + "\n" + m.group(2), text, flags=re.S)
    DOC.write_text(new)
    print(f"{DOC}: {len(rows)} rows")
