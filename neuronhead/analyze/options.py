"""The options of ``analyze``: what it counts and draws, as one small frozen group.

Where the score shards are read (``local`` or a Ray cluster) is the pipelines' ``Engine``, the same
group ``extract`` and ``score`` take.
"""

from __future__ import annotations

from dataclasses import dataclass

from neuronhead.spine import opt


@dataclass(frozen=True)
class AnalyzeOptions:
    """Time bucket (``hour``, ``day``, ``week`` or ``None``), one panel per group (``lang``,
    ``hashtag``, ``author`` or ``None``), hashtags listed per label, and whether to draw plots."""

    by: str | None = opt("day", "time bucket (none: no time)", ["hour", "day", "week", "none"])
    group_by: str | None = opt(None, "one panel each", ["lang", "hashtag", "author"])
    top: int = opt(20, "hashtags listed per label")
    plots: bool = opt(True, "draw the time-series plots")

    def __post_init__(self) -> None:
        if self.by == "none":  # the flag's spelling of no time bucket
            object.__setattr__(self, "by", None)
