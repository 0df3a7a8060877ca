"""The options of ``tune_head``, as two small frozen groups instead of one long keyword list.

``TuneOptions`` is what the search optimises and how it picks a head; ``TuneEngine`` is where its
trials run and where Ray Tune keeps the state a rerun resumes from. Neither changes the leaderboard
except ``max_concurrent`` above 1, which lets TPE and ASHA see results in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass

from neuronhead.spine import opt

SELECT_ON = ("dev", "val")


@dataclass(frozen=True)
class TuneOptions:
    """What is searched and how the winner is chosen; the seed fixes the search path."""

    trials: int = opt(50, "trials to run")
    timeout: float | None = opt(
        None,
        "time budget of the search in seconds: Ray Tune's time_budget_s stops every trial, running "
        "ones included, when it is spent",
    )
    metric: str | None = opt(None, "what to maximise (default: the task's headline metric)")
    task: str | None = opt(None, "default: the features' task", ["classification", "regression"])
    seed: int = opt(0, "fixes the search")
    grace_epochs: int = 4  # ASHA stops no trial before this many Phase-2 epochs
    select_on: str = opt(
        "dev",
        "score trials on a dev split carved from --train (the chosen heads are then refitted on all of "
        "it and reported on val once), or on val (its figures are then not held out)",
        SELECT_ON,
    )
    dev_fraction: float = opt(0.2, "share of --train carved out for dev")

    def __post_init__(self) -> None:
        if self.select_on not in SELECT_ON:
            raise ValueError(f"select_on must be 'dev' or 'val', not {self.select_on!r}")


@dataclass(frozen=True)
class TuneEngine:
    """Where trials run: how many at once (a number or ``auto``: one per CPU), which Ray cluster
    (``None``: a local Ray), and the Tune storage a rerun resumes from (``None``: ``OUT/ray-tune``)."""

    max_concurrent: int | str = opt(
        1,
        "trials at once: a number, or auto (one per CPU of the cluster). 1 makes the search "
        "reproducible; more is faster, but TPE and ASHA then see results in arrival order",
    )
    address: str | None = None
    storage: str | None = opt(None, "Tune storage: absolute path or URI (default: OUT/ray-tune)")
