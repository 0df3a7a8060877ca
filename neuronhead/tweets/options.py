"""Which tweets of a dump go through the model: retweets, repeated ids and languages.

A tweet left out is never dropped: it stays a row, with ``error`` set to ``filtered: <what> …``, and
the job counts it, so rows in = rows out still holds and an analysis can tell a filtered row from a
scored one.
"""

from __future__ import annotations

from dataclasses import dataclass

from neuronhead.spine import opt
from neuronhead.tweets.records import Tweet

FILTERED = "filtered: "


@dataclass(frozen=True)
class TweetOptions:
    retweets: str = opt(
        "keep",
        "tweet dumps: drop leaves retweets out of the model (each still comes out, filtered)",
        ["keep", "drop"],
    )
    dedupe: bool = opt(False, "tweet dumps: filter later rows of a repeated id")
    langs: tuple[str, ...] | None = None  # keep only these languages (``lang`` as the API gives it)

    def __post_init__(self) -> None:
        if self.retweets not in ("keep", "drop"):
            raise ValueError(f"retweets must be 'keep' or 'drop', not {self.retweets!r}")

    @classmethod
    def from_args(
        cls, retweets: str = "keep", dedupe: bool = False, langs: str | None = None
    ) -> TweetOptions:
        """``langs`` as the command line gives it: ``en,es`` (empty or None: every language)."""
        kept = tuple(x.strip() for x in (langs or "").split(",") if x.strip())
        return cls(retweets, dedupe, kept or None)

    @property
    def active(self) -> bool:
        return self.retweets == "drop" or self.dedupe or self.langs is not None

    def skip_reason(self, tweet: Tweet) -> str | None:
        """Why ``tweet`` is filtered (retweets and languages; repeated ids need the whole dump)."""
        if self.retweets == "drop" and tweet.is_retweet:
            return FILTERED + "retweet (--retweets drop)"
        if self.langs is not None and tweet.lang not in self.langs:
            return FILTERED + f"language {tweet.lang or 'unknown'} (--lang {','.join(self.langs)})"
        return None

    def to_json(self) -> dict:
        return {"retweets": self.retweets, "dedupe": self.dedupe, "langs": list(self.langs or []) or None}


DUPLICATE = FILTERED + "duplicate tweet id (an earlier row has it; --dedupe)"


def filter_kind(error: str) -> str:
    """``filtered: retweet (…)`` → ``retweet``: the word counts are kept under."""
    return error.removeprefix(FILTERED).split(" ", 1)[0]
