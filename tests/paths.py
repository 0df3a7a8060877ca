"""Where tests find the repository's own files: from this file, so pytest runs from any directory."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
DEMO = EXAMPLES / "demo"
