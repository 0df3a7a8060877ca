"""Matplotlib for files: the Agg backend, imported only when a plot is drawn, and atomic PNG writes.

Each part of the house draws its own results (``heads/plots.py``, ``tune/plots.py``,
``analyze/plots.py``, ``run/report/plots.py``) with these two helpers.
"""

from __future__ import annotations

import os
from pathlib import Path


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    pyplot().close(fig)
    return path
