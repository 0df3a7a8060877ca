"""What a job's output folder is keyed on: its settings and the *content* of its input files.

A file's content, not its modification time: the same JSONL written again keeps its key, so an
extraction or a cache entry made from it is reused, while a changed file gets a new key. Hashing is
done once per file version: a folder records ``[path, size, mtime_ns, sha256]`` per input, and a later
run re-hashes only the files whose size or mtime moved.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuronhead.manifests import FeatureManifest, ScoreManifest
from neuronhead.store import MANIFEST, read_manifest

_CHUNK = 1 << 22


@dataclass(frozen=True)
class FileStamp:
    path: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None  # None for a path that is not a regular file (a hub name, a folder)

    def record(self) -> list:
        return [self.path, self.size, self.mtime_ns, self.sha256]


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_stamps(paths: list[str], known: list[list] | None = None) -> list[FileStamp]:
    """A stamp per input; ``known`` holds the records a previous run of the same folder wrote."""
    memo = {tuple(k[:3]): k[3] for k in known or [] if len(k) == 4}
    stamps = []
    for p in paths:
        path = os.path.abspath(p)
        if not os.path.exists(p):
            stamps.append(FileStamp(path, None, None, None))
            continue
        st = os.stat(p)
        sha = None
        if os.path.isfile(p):
            sha = memo.get((path, st.st_size, st.st_mtime_ns)) or _sha256(p)
        stamps.append(FileStamp(path, st.st_size, st.st_mtime_ns, sha))
    return stamps


def content_key(stamps: list[FileStamp]) -> list[list]:
    """The inputs as a settings key sees them: path, size and content hash (mtime where no hash)."""
    return [[s.path, s.size, s.sha256 or s.mtime_ns] for s in stamps]


def mtime_key(stamps: list[FileStamp]) -> list[list]:
    """The key folders written before content hashing used: path, size and mtime."""
    return [[s.path, s.size, s.mtime_ns] for s in stamps]


def fingerprint(settings_key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings_key, sort_keys=True).encode()).hexdigest()[:16]


class StaleFolder(FileExistsError):
    """The output folder holds a job made with other settings or other input content."""


@dataclass(frozen=True)
class KeyedFolder:
    fingerprint: str
    stamps: list[FileStamp]
    previous: FeatureManifest | ScoreManifest | None  # the folder's manifest, when it has one


def key_folder(out: Path, settings_key: dict[str, Any], files: list[str], what: str) -> KeyedFolder:
    """Fingerprint a job (``settings_key["source"]["files"]`` is filled in here) and check ``out``.

    A folder written before content hashing is accepted when its path/size/mtime key matches.
    """
    old = read_manifest(out) if (out / MANIFEST).exists() else None
    stamps = file_stamps(files, old.file_stamps if old else None)

    def keyed(files_key: list[list]) -> str:
        return fingerprint({**settings_key, "source": {**settings_key["source"], "files": files_key}})

    new = keyed(content_key(stamps))
    if old and old.fingerprint not in (new, keyed(mtime_key(stamps))):
        raise StaleFolder(
            f"{out} holds {what} made with other settings or data (fingerprint "
            f"{old.fingerprint} vs {new}); choose another --out or delete it"
        )
    return KeyedFolder(new, stamps, old)
