"""Hand-written v1.1 and v2 records: each text-field case, retweets, long posts, compression, bad lines."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from neuronhead.tweets import Problem, Tweet, parse_record, read_tweets, tweeteval_normalize

V1_PLAIN = {
    "id_str": "101",
    "created_at": "Wed Oct 10 20:19:24 +0000 2018",
    "text": "short one #a",
    "lang": "en",
    "user": {"id_str": "u1"},
    "entities": {"hashtags": [{"text": "a"}]},
}
V1_EXTENDED_MODE = {
    "id": 102,
    "created_at": "Thu Oct 11 08:00:00 +0200 2018",
    "full_text": "the full text",
    "text": "the full…",
    "user": {"id": 7},
}
V1_COMPAT_MODE = {
    "id_str": "103",
    "created_at": "Wed Oct 10 20:19:24 +0000 2018",
    "truncated": True,
    "text": "a long post that got cut…",
    "extended_tweet": {
        "full_text": "a long post that got cut here but goes on #long",
        "entities": {"hashtags": [{"text": "long"}]},
    },
    "entities": {"hashtags": []},
}
V1_RETWEET = {
    "id_str": "104",
    "created_at": "Wed Oct 10 21:00:00 +0000 2018",
    "text": "RT @bob: orig…",
    "user": {"id_str": "u2"},
    "retweeted_status": {
        "id_str": "90",
        "full_text": "original words #x",
        "entities": {"hashtags": [{"text": "x"}]},
    },
}
V2_PLAIN = {
    "id": "201",
    "text": "hello v2 #b",
    "created_at": "2023-03-01T12:30:00.000Z",
    "lang": "es",
    "author_id": "a1",
    "entities": {"hashtags": [{"start": 9, "end": 11, "tag": "b"}]},
}
V2_LONG = {
    "id": "202",
    "text": "truncated preview…",
    "note_tweet": {"text": "the whole long post " * 30},
    "created_at": "2023-03-01T13:00:00Z",
    "author_id": "a2",
}
V2_RETWEET = {
    "id": "203",
    "text": "RT @carol: the orig…",
    "created_at": "2023-03-02T00:00:00Z",
    "referenced_tweets": [{"type": "retweeted", "id": "150"}],
    "author_id": "a3",
}
V2_ORIGINAL = {"id": "150", "text": "the original, complete #c", "entities": {"hashtags": [{"tag": "c"}]}}
V2_QUOTE = {"id": "204", "text": "my take on it", "referenced_tweets": [{"type": "quoted", "id": "9"}]}
# fmt: skip


@pytest.mark.parametrize(
    "record,text,field,retweet",
    [
        (V1_PLAIN, "short one #a", "text", False),
        (V1_EXTENDED_MODE, "the full text", "full_text", False),
        (
            V1_COMPAT_MODE,
            "a long post that got cut here but goes on #long",
            "extended_tweet.full_text",
            False,
        ),
        (V1_RETWEET, "original words #x", "retweeted_status.full_text", True),
        (V2_PLAIN, "hello v2 #b", "text", False),
        (V2_LONG, "the whole long post " * 30, "note_tweet.text", False),
        (V2_RETWEET, "the orig…", "text (retweet, original not included)", True),
        (V2_QUOTE, "my take on it", "text", False),
    ],
)
def test_the_right_text_field_per_record(record, text, field, retweet):
    t = parse_record(record)
    assert (t.text, t.text_field, t.is_retweet) == (text, field, retweet)


def test_metadata_of_both_apis():
    a = parse_record(V1_PLAIN)
    assert (a.id, a.api, a.lang, a.author_id, a.hashtags) == ("101", "v1.1", "en", "u1", ["a"])
    assert a.created_at == datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)
    b = parse_record(V1_EXTENDED_MODE)
    assert (b.id, b.author_id, b.created_at) == ("102", "7", datetime(2018, 10, 11, 6, 0, tzinfo=UTC))
    assert parse_record(V1_COMPAT_MODE).hashtags == ["long"]  # the long form's entities
    rt = parse_record(V1_RETWEET)
    assert (rt.retweet_of, rt.hashtags, rt.author_id) == ("90", ["x"], "u2")
    v2 = parse_record(V2_PLAIN)
    assert (v2.api, v2.lang, v2.author_id, v2.hashtags) == ("v2", "es", "a1", ["b"])
    assert v2.created_at == datetime(2023, 3, 1, 12, 30, tzinfo=UTC)


def test_a_v2_envelope_resolves_retweets_from_includes(tmp_path):
    env = {"data": [V2_PLAIN, V2_RETWEET], "includes": {"tweets": [V2_ORIGINAL]}, "meta": {"result_count": 2}}
    path = tmp_path / "page.jsonl"
    path.write_text(json.dumps(env) + "\n" + json.dumps({"data": V2_LONG}) + "\n")
    got = [t for _, t in read_tweets(str(path))]
    assert [t.id for t in got] == ["201", "203", "202"]
    rt = got[1]
    assert (rt.text, rt.text_field, rt.retweet_of, rt.hashtags) == (
        "the original, complete #c", "includes.tweets.text", "150", ["c"])  # fmt: skip


@pytest.mark.parametrize("codec", [None, "gzip", "zstd"])
def test_json_lines_and_arrays_plain_or_compressed(codec, tmp_path):
    records = [V1_PLAIN, V1_RETWEET, V2_PLAIN, V2_LONG]
    lines = "".join(json.dumps(r) + "\n" for r in records).encode()
    array = json.dumps(records, indent=1).encode()
    for name, payload in (("lines.jsonl", lines), ("array.json", array)):
        ext = {None: "", "gzip": ".gz", "zstd": ".zst"}[codec]
        path = tmp_path / (name + ext)
        if codec is None:
            path.write_bytes(payload)
        elif codec == "gzip":
            path.write_bytes(gzip.compress(payload))
        else:
            with pa.CompressedOutputStream(str(path), "zstd") as out:
                out.write(payload)
        got = list(read_tweets(str(path)))
        assert [t.id for _, t in got] == ["101", "104", "201", "202"], name
        assert [n for n, _ in got] == [1, 2, 3, 4]  # line numbers; element numbers in an array


def test_malformed_lines_are_reported_with_file_and_line_and_the_rest_is_read(tmp_path):
    path = tmp_path / "dump.jsonl"
    path.write_bytes(
        json.dumps(V1_PLAIN).encode() + b"\n"
        + b'{"id_str": "x", "text": "broken\n'  # broken JSON
        + b"\xff\xfe not utf-8\n"
        + b'{"id_str": "105"}\n'  # no text
        + b'"just a string"\n'
        + b'{"id": "206", "text": 5}\n'  # wrong type
        + b'{"id_str": "107", "text": "ok", "created_at": "yesterday"}\n'
        + b"\n"
        + json.dumps(V2_PLAIN).encode() + b"\n"
    )  # fmt: skip
    got = list(read_tweets(str(path)))
    good = [(n, t.id) for n, t in got if isinstance(t, Tweet)]
    bad = {n: str(t) for n, t in got if isinstance(t, Problem)}
    assert good == [(1, "101"), (9, "201")]
    assert sorted(bad) == [2, 3, 4, 5, 6, 7]
    assert all(v.startswith(f"{path}:{n}: ") for n, v in bad.items())
    assert "broken JSON" in bad[2] and "UTF-8" in bad[3] and "no full_text" in bad[4]
    assert "JSON object" in bad[5] and "text must be a string" in bad[6] and "v1.1 date" in bad[7]


def test_a_truncated_compressed_file_is_a_problem_not_a_crash(tmp_path):
    payload = gzip.compress(("".join(json.dumps(V2_PLAIN) + "\n" for _ in range(2000))).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(payload[: len(payload) // 2])
    got = list(read_tweets(str(path)))
    assert isinstance(got[-1][1], Problem) and "decompress" in str(got[-1][1])
    assert all(isinstance(t, Tweet) for _, t in got[:-1]) and len(got) > 1


def test_tweeteval_normalisation():
    assert (
        tweeteval_normalize("@bob see https://t.co/x and http://a.b @ me") == "@user see http and http @ me"
    )
