"""The options of ``tune_head``, as two small frozen groups instead of one long keyword list.

``TuneOptions`` is what the search optimises and how it picks a head; ``TuneEngine`` is where its
trials run and where Ray Tune keeps the state a rerun resumes from. Neither changes the leaderboard
except ``max_concurrent`` above 1, which lets TPE and ASHA see results in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass

SELECT_ON = ("dev", "val")


@dataclass(frozen=True)
class TuneOptions:
    """What is searched and how the winner is chosen; the seed fixes the search path."""

    trials: int = 50
    timeout: float | None = None  # Ray Tune's time_budget_s: stops every trial when spent
    metric: str | None = None  # default: the task's headline metric (from the features' manifest)
    task: str | None = None  # default: the features' task
    seed: int = 0
    grace_epochs: int = 4  # ASHA stops no trial before this many Phase-2 epochs
    select_on: str = "dev"  # dev: a split carved from train, the chosen heads refitted on all of it
    dev_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.select_on not in SELECT_ON:
            raise ValueError(f"select_on must be 'dev' or 'val', not {self.select_on!r}")


@dataclass(frozen=True)
class TuneEngine:
    """Where trials run: how many at once (a number or ``auto``: one per CPU), which Ray cluster
    (``None``: a local Ray), and the Tune storage a rerun resumes from (``None``: ``OUT/ray-tune``)."""

    max_concurrent: int | str = 1
    address: str | None = None
    storage: str | None = None
