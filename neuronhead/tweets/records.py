"""One Twitter/X API record (v1.1 or v2) → the text to classify and the metadata analyses group by.

The right text is chosen per record: a retweet's original text (retweets are truncated copies);
otherwise the long form when there is one (v2 ``note_tweet.text``, v1.1 ``extended_tweet.full_text``
or ``full_text``), else ``text``. ``text_field`` says which field was used, so a dump's mix of
fields can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

V1_DATE = "%a %b %d %H:%M:%S %z %Y"  # "Wed Oct 10 20:19:24 +0000 2018"


class RecordError(ValueError):
    """A record that is JSON but not a usable tweet; the reader adds file and line."""


@dataclass
class Tweet:
    id: str
    text: str
    text_field: str
    created_at: datetime | None
    lang: str | None
    author_id: str | None
    hashtags: list[str] = field(default_factory=list)
    is_retweet: bool = False
    retweet_of: str | None = None
    api: str = "v2"


def _str_id(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | str) and str(value).strip():
        return str(value).strip()
    raise RecordError(f"id must be a string or integer, got {type(value).__name__}")


def _date(value: Any, api: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise RecordError(f"created_at must be a string, got {type(value).__name__}")
    try:
        if api == "v1.1":
            return datetime.strptime(value, V1_DATE).astimezone(UTC)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise RecordError(f"created_at {value!r} is not a {api} date") from None


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _hashtags(entities: Any, key: str) -> list[str]:
    if not isinstance(entities, dict):
        return []
    return [str(h.get(key)) for h in entities.get("hashtags") or [] if isinstance(h, dict) and h.get(key)]


def is_v1(record: dict) -> bool:
    return any(k in record for k in ("id_str", "full_text", "extended_tweet", "retweeted_status", "user"))


def parse_v1(record: dict) -> Tweet:
    """A v1.1 status; a retweet takes its ``retweeted_status``'s text and hashtags."""
    rid = _str_id(record.get("id_str") or record.get("id"))
    if rid is None:
        raise RecordError("no id_str or id")
    original = record.get("retweeted_status")
    source = original if isinstance(original, dict) else record
    ext = source.get("extended_tweet")
    if isinstance(ext, dict) and "full_text" in ext:
        text, where = _text(ext["full_text"], "extended_tweet.full_text"), "extended_tweet.full_text"
    elif "full_text" in source:
        text, where = _text(source["full_text"], "full_text"), "full_text"
    elif "text" in source:
        text, where = _text(source["text"], "text"), "text"
    else:
        raise RecordError("no full_text, extended_tweet.full_text or text")
    entities = (
        ext.get("entities") if isinstance(ext, dict) and ext.get("entities") else source.get("entities")
    )
    user = record.get("user") if isinstance(record.get("user"), dict) else {}
    return Tweet(
        id=rid,
        text=text,
        text_field=("retweeted_status." if source is not record else "") + where,
        created_at=_date(record.get("created_at"), "v1.1"),
        lang=record.get("lang") or None,
        author_id=_str_id(user.get("id_str") or user.get("id")),
        hashtags=_hashtags(entities, "text"),
        is_retweet=source is not record,
        retweet_of=_str_id(source.get("id_str") or source.get("id")) if source is not record else None,
        api="v1.1",
    )


def parse_v2(record: dict, included: dict[str, dict] | None = None) -> Tweet:
    """A v2 tweet object; ``included`` maps ids to the envelope's ``includes.tweets`` (retweet originals)."""
    rid = _str_id(record.get("id"))
    if rid is None:
        raise RecordError("no id")
    retweeted = next(
        (r.get("id") for r in record.get("referenced_tweets") or [] if isinstance(r, dict)
         and r.get("type") == "retweeted"),
        None,
    )  # fmt: skip
    original = (included or {}).get(str(retweeted)) if retweeted is not None else None
    source = original if original is not None else record
    note = source.get("note_tweet")
    if isinstance(note, dict) and "text" in note:
        text, where = _text(note["text"], "note_tweet.text"), "note_tweet.text"
    elif "text" in source:
        text, where = _text(source["text"], "text"), "text"
    else:
        raise RecordError("no text or note_tweet.text")
    if retweeted is not None and original is None:  # original not included: drop the "RT @x: " prefix
        if text.startswith("RT @") and ": " in text:
            text = text.split(": ", 1)[1]
        where = "text (retweet, original not included)"
    entities = (
        note.get("entities") if isinstance(note, dict) and note.get("entities") else source.get("entities")
    )
    return Tweet(
        id=rid,
        text=text,
        text_field=("includes.tweets." if original is not None else "") + where,
        created_at=_date(record.get("created_at"), "v2"),
        lang=record.get("lang") or None,
        author_id=_str_id(record.get("author_id")),
        hashtags=_hashtags(entities, "tag"),
        is_retweet=retweeted is not None,
        retweet_of=_str_id(retweeted),
        api="v2",
    )


def parse_record(record: Any, included: dict[str, dict] | None = None) -> Tweet:
    if not isinstance(record, dict):
        raise RecordError(f"a tweet must be a JSON object, got {type(record).__name__}")
    return parse_v1(record) if is_v1(record) else parse_v2(record, included)
