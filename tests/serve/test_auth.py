"""The API key file and the check of a request's key (no Ray started)."""

from __future__ import annotations

import pytest

from neuronhead.serve.auth import KeyFileError, authorized, read_keys, refusal

KEY = "nh_3f9a2c7e81b4d605"


def key_file(tmp_path, text: str, mode: int = 0o600):
    path = tmp_path / "key"
    path.write_text(text, encoding="ascii")
    path.chmod(mode)
    return path


def test_the_key_and_only_the_key_is_let_in(tmp_path):
    keys = read_keys(key_file(tmp_path, f"# rotated 2026-12\n\n{KEY}\n"))
    assert keys.warning is None and len(keys.digests) == 1
    assert authorized(f"Bearer {KEY}", keys) and authorized(f"bearer  {KEY} ", keys)
    wrong = (f"Basic {KEY}", f"Bearer {KEY}x", f"Bearer {KEY[:-1]}", KEY, f"Bearer {KEY.upper()}")
    for header in (None, "", "Bearer", "Bearer ", *wrong):
        assert not authorized(header, keys), header


def test_two_keys_while_clients_move(tmp_path):
    keys = read_keys(key_file(tmp_path, f"{KEY}\nnh_new_key_0001\n"))
    assert authorized(f"Bearer {KEY}", keys) and authorized("Bearer nh_new_key_0001", keys)


def test_the_refusal_says_what_to_send_and_never_the_key():
    assert refusal(None) == (
        "no API key: send the header 'Authorization: Bearer <key>'",
        'Bearer realm="neuronhead"',
    )
    reason, challenge = refusal(f"Bearer {KEY}x")
    assert reason == "the API key is not valid" and KEY not in reason
    assert challenge == 'Bearer realm="neuronhead", error="invalid_token"'


@pytest.mark.parametrize(
    "content, problem",
    [(None, "does not exist"), (b"", "holds no key"), (b"# only a comment\n", "holds no key"),
     (f"{KEY} second-word\n".encode(), "line 1 of API key file .* is not a key"),
     ("caf\u00e9\n".encode(), "is not ASCII text")],
)  # fmt: skip
def test_a_key_file_that_cannot_serve_is_refused_by_name(tmp_path, content, problem):
    path = tmp_path / "key"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(KeyFileError, match=problem) as caught:
        read_keys(path)
    assert str(path) in str(caught.value) and KEY not in str(caught.value)


def test_a_key_file_every_user_may_read_is_served_with_a_warning(tmp_path):
    path = key_file(tmp_path, KEY, mode=0o644)
    keys = read_keys(path)
    assert authorized(f"Bearer {KEY}", keys)
    assert keys.warning == (
        f"API key file {path} is readable by every user on this machine (mode 0644); "
        f"serving anyway: chmod o-r {path}"
    )
    assert read_keys(key_file(tmp_path, KEY, mode=0o640)).warning is None


def test_serve_refuses_a_missing_key_file_before_ray_starts(tmp_path, capsys):
    from neuronhead.cli import main

    missing = tmp_path / "no-such-key"
    assert main(["serve", "--head", str(tmp_path), "--api-key-file", str(missing)]) == 2
    said = capsys.readouterr().err
    assert said == f"neuronhead serve: error: API key file {missing} does not exist (--api-key-file)\n"
    import ray

    assert not ray.is_initialized()


def test_serve_warns_of_a_key_file_every_user_may_read(tmp_path, capsys):
    from neuronhead.serve.options import Ingress
    from neuronhead.serve.server import check_key_file

    path = key_file(tmp_path, KEY, mode=0o644)
    check_key_file(Ingress(api_key_file=str(path)))
    said = capsys.readouterr().err
    assert said.startswith(f"neuronhead serve: warning: API key file {path} is readable by every user")
    assert KEY not in said
