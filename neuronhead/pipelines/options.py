"""The options of a sharded job, as small frozen groups instead of one long keyword list.

``extract`` takes ``Capture`` (what the hooks keep), ``Reading`` (how rows are read), ``Compute``
(how the model runs), ``Engine`` (where the shards run) and ``Output`` (how the job writes);
``score`` takes all but ``Capture``, which its heads recorded. The flat names (the CLI's, ``run``'s
config and the extraction cache's key) map onto the groups in one place, ``grouped``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from neuronhead.tweets.options import TweetOptions


@dataclass(frozen=True)
class Capture:
    """What the hooks keep per text: which layers, from how many tokens, pooled over which tokens."""

    layers: str | list[int] | None = None  # "0-5", "0,2,4-5", a list, or None for all
    max_length: int = 128
    pool_special_tokens: bool = False
    embeddings: bool = False  # also the final hidden state, for the sentence-embedding baselines


@dataclass(frozen=True)
class Reading:
    """How input rows are read: split, columns, labels, file format, normalisation, tweet filters."""

    split: str | None = None
    text_column: str = "text"
    id_column: str = "id"
    label_column: str = "label"
    label_names: list[str] | None = None
    label_kind: str = "auto"  # auto, class or value
    format: str = "auto"
    normalize: str = "auto"
    tweets: TweetOptions | None = None
    on_bad_row: str = "error"  # error or skip (scoring always keeps bad rows, with their reason)


@dataclass(frozen=True)
class Compute:
    """How the model runs: batches, precision, device, and whether model code may come with it."""

    batch_size: int = 64
    max_tokens: int | None = None
    dtype: str = "auto"
    device: str = "auto"
    trust_remote_code: bool = False


@dataclass(frozen=True)
class Engine:
    """Where shards run: ``auto``, ``ray`` (``address`` joins a cluster) or ``local``."""

    engine: str = "auto"
    address: str | None = None
    num_actors: int | None = None


@dataclass(frozen=True)
class Output:
    """How a job writes: rows per shard (``None``: sized from a row's bytes) and a progress bar."""

    shard_rows: int | None = None
    progress: bool = True


GROUPS = {"capture": Capture, "reading": Reading, "compute": Compute, "engine": Engine, "output": Output}


def grouped(**flat: Any) -> dict[str, Any]:
    """Flat option names → ``{"capture": Capture(...), "reading": ..., ...}`` for ``extract``/``score``.

    Names that are none of the groups' fields pass through unchanged.
    """
    out: dict[str, Any] = {}
    for group, cls in GROUPS.items():
        names = {f.name for f in dataclasses.fields(cls)}
        given = {k: flat.pop(k) for k in list(flat) if k in names}
        out[group] = cls(**given)
    return out | flat
