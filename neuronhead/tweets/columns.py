"""The metadata columns a tweet brings along, from the reader through to the scores and the analysis."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from neuronhead.tweets.records import Tweet

META_FIELDS = [
    pa.field("created_at", pa.timestamp("us", tz="UTC")),
    pa.field("lang", pa.string()),
    pa.field("author_id", pa.string()),
    pa.field("hashtags", pa.list_(pa.string())),
    pa.field("is_retweet", pa.bool_()),
    pa.field("retweet_of", pa.string()),
    pa.field("text_field", pa.string()),
]
META_NAMES = [f.name for f in META_FIELDS]


def tweet_meta(tweet: Tweet) -> dict[str, Any]:
    return {
        "created_at": tweet.created_at,
        "lang": tweet.lang,
        "author_id": tweet.author_id,
        "hashtags": tweet.hashtags,
        "is_retweet": tweet.is_retweet,
        "retweet_of": tweet.retweet_of,
        "text_field": tweet.text_field,
    }
