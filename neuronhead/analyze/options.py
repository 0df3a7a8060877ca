"""The options of ``analyze``: what it counts and draws, as one small frozen group.

Where the score shards are read (``local`` or a Ray cluster) is the pipelines' ``Engine``, the same
group ``extract`` and ``score`` take.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalyzeOptions:
    """Time bucket (``hour``, ``day``, ``week`` or ``None``), one panel per group (``lang``,
    ``hashtag``, ``author`` or ``None``), hashtags listed per label, and whether to draw plots."""

    by: str | None = "day"
    group_by: str | None = None
    top: int = 20
    plots: bool = True
