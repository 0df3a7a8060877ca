"""The API key of ``neuronhead serve --api-key-file`` (no Ray: tested in the quick tier).

The file is read once per process; only the keys' SHA-256 digests are kept, and a request's key is
hashed and compared with ``hmac.compare_digest`` against every one of them (no early exit), so the
time a check takes says nothing about the keys. No message here or in the server holds a key.
"""

from __future__ import annotations

import hashlib
import hmac
import stat
from dataclasses import dataclass
from pathlib import Path

SCHEME = "Bearer"
CHALLENGE = f'{SCHEME} realm="neuronhead"'


class KeyFileError(ValueError):
    """The key file cannot serve: missing, unreadable, empty or with a line that is not a key."""


@dataclass(frozen=True)
class Keys:
    digests: tuple[bytes, ...]
    warning: str | None = None  # the file is readable by every user: served anyway, said once


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("latin-1", "replace")).digest()


def read_keys(path: str | Path) -> Keys:
    """Every key in ``path``: one a line (two while clients move to a new one); blank lines and
    lines starting with ``#`` are skipped. A key is printable ASCII without spaces, as
    ``Authorization: Bearer KEY`` carries it. A file every user may read is served, with a warning."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        lines = path.read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        raise KeyFileError(f"API key file {path} does not exist (--api-key-file)") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"API key file {path} is not ASCII text (--api-key-file)") from None
    except OSError as exc:
        raise KeyFileError(f"API key file {path} cannot be read: {exc.strerror} (--api-key-file)") from None
    keys = []
    for number, line in enumerate(lines, 1):
        key = line.strip()
        if not key or key.startswith("#"):
            continue
        if not all(33 <= ord(c) <= 126 for c in key):  # the key itself is never printed
            reason = "a key is printable ASCII without spaces"
            raise KeyFileError(f"line {number} of API key file {path} is not a key: {reason}")
        keys.append(_digest(key))
    if not keys:
        raise KeyFileError(f"API key file {path} holds no key (--api-key-file)")
    warning = None
    if stat.S_ISREG(mode) and mode & stat.S_IROTH:
        warning = (
            f"API key file {path} is readable by every user on this machine (mode "
            f"{stat.S_IMODE(mode):04o}); serving anyway: chmod o-r {path}"
        )
    return Keys(tuple(keys), warning)


def authorized(header: str | None, keys: Keys) -> bool:
    """Whether an ``Authorization`` header carries one of the keys (scheme case-insensitive)."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip() if scheme.lower() == SCHEME.lower() else ""
    given = _digest(token)
    match = False
    for digest in keys.digests:
        match |= hmac.compare_digest(given, digest)
    return match and bool(token)


def refusal(header: str | None) -> tuple[str, str]:
    """The 401's reason and ``WWW-Authenticate`` value: no key sent, or a key that is not one."""
    if not header:
        return f"no API key: send the header 'Authorization: {SCHEME} <key>'", CHALLENGE
    return "the API key is not valid", f'{CHALLENGE}, error="invalid_token"'
