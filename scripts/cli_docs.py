"""Write each command's ``--help`` into README.md between ``<!-- cli:NAME -->`` markers.

``tests/test_cli_docs.py`` fails when the README and the CLI disagree; run this to bring them in step:
    .venv/bin/python scripts/cli_docs.py
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def help_texts() -> dict[str, str]:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal width: fix it
    from neuronhead.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name: p.format_help().rstrip() for name, p in sub.choices.items()}


def render(text: str) -> str:
    for name, body in help_texts().items():
        pattern = re.compile(rf"(<!-- cli:{name} -->\n)(?:.*?\n)?(<!-- /cli:{name} -->)", re.S)
        text = pattern.sub(lambda m, b=body: f"{m.group(1)}```text\n{b}\n```\n{m.group(2)}", text)
    return text


if __name__ == "__main__":
    new = render(README.read_text())
    README.write_text(new)
    sys.exit(0)
