"""Render the reliability suite's log as the table in docs/reliability.md (between its markers).

    NEURONHEAD_RELIABILITY_OUT=/tmp/rel ../shared/bin/loopback-only \\
        .venv/bin/python -m pytest tests/reliability tests/cluster tests/pipelines/test_follow.py tests/serve
    .venv/bin/python scripts/reliability_table.py /tmp/rel/reliability.json

Several logs are merged. ``--merge`` keeps the rows of the table already in the document whose case no
given log has (to add the rows of one suite, e.g. ``pytest -m multinode``, without rerunning the rest).
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


def rows_in_doc(text: str) -> list[dict]:
    """The table now in the document, back as log rows."""
    body = re.search(r"<!-- table -->\n(.*?)<!-- /table -->", text, flags=re.S).group(1)
    rows = []
    for line in body.splitlines()[2:]:
        cells = [c.replace("\\|", "|").strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        value = [None if c == "–" else c for c in cells]
        rows.append(dict(zip(["kind", "case", "outcome", "rows_in", "rows_out"], value, strict=True)))
    return rows


if __name__ == "__main__":
    args = sys.argv[1:]
    merge = "--merge" in args
    rows = [r for a in args if a != "--merge" for r in json.loads(Path(a).read_text())]
    text = DOC.read_text()
    if merge:
        cases = {r["case"] for r in rows}
        rows = [r for r in rows_in_doc(text) if r["case"] not in cases] + rows
    pattern = r"(<!-- table -->\n).*?(<!-- /table -->)"
    new = re.sub(pattern, lambda m: m.group(1) + table(rows) + "\n" + m.group(2), text, flags=re.S)
    DOC.write_text(new)
    print(f"{DOC}: {len(rows)} rows")
