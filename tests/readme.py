"""The README's code blocks, for tests that run them so the README stays true."""

from __future__ import annotations

from tests.paths import REPO


def readme_blocks(section: str, lang: str) -> list[str]:
    """The ```lang blocks of the README section titled ``section`` (up to the next ``## `` title)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    text = readme.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [part.split("```", 1)[0] for part in text.split(f"```{lang}\n")[1:]]


def readme_command(section: str, command: str) -> str:
    """The one bash block of ``section`` that starts with ``command`` (e.g. ``neuronhead export``)."""
    found = [b.strip() for b in readme_blocks(section, "bash") if b.strip().startswith(command)]
    assert len(found) == 1, f"README section {section!r} has {len(found)} blocks starting {command!r}"
    return found[0]
