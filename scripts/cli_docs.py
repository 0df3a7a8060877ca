"""Generate docs/cli.md, the CLI reference, from the parser: every command's ``--help``.

``tests/test_cli_docs.py`` fails when docs/cli.md differs from what this writes; after changing a
flag, run:
    .venv/bin/python scripts/cli_docs.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CLI_MD = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
HEADER = """# CLI reference

Generated from the parser by `scripts/cli_docs.py`; `tests/test_cli_docs.py` fails when this page
and `neuronhead --help` disagree. The [guide](guide.md) shows the commands in use.
"""


def help_texts() -> dict[str, str]:
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal width: fix it
    from neuronhead.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name: p.format_help().rstrip() for name, p in sub.choices.items()}


def render() -> str:
    """The whole page: a contents line, then each command's help in a text block."""
    texts = help_texts()
    contents = " · ".join(f"[{name}](#neuronhead-{name})" for name in texts)
    parts = [HEADER, contents + "\n"]
    parts += [f"## neuronhead {name}\n\n```text\n{body}\n```\n" for name, body in texts.items()]
    return "\n".join(parts)


if __name__ == "__main__":
    CLI_MD.write_text(render(), encoding="utf-8")
    sys.exit(0)
