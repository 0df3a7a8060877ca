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

from neuronhead.models.tokens import BATCH_SIZE, MAX_LENGTH
from neuronhead.spine import opt
from neuronhead.tweets.options import TweetOptions


@dataclass(frozen=True)
class Capture:
    """What the hooks keep per text: which layers, from how many tokens, pooled over which tokens."""

    layers: str | list[int] | None = opt(None, "layers to keep, e.g. 0-5 or 0,2,4-5 (default: all)")
    max_length: int = opt(MAX_LENGTH, "tokens per text; longer texts are truncated")
    pool_special_tokens: bool = opt(
        False, "let [CLS]/[SEP]/<s>/</s> take part in pooling (default: content tokens only)"
    )
    embeddings: bool = opt(
        False, "also store the final hidden state (mean-pooled and first/last token), for baselines"
    )


@dataclass(frozen=True)
class Reading:
    """How input rows are read: split, columns, labels, file format, normalisation, tweet filters."""

    split: str | None = None
    text_column: str = opt("text", "column holding the text")
    id_column: str = opt("id", "column holding the row id (none: the row number)")
    label_column: str = opt("label", "column holding the label")
    label_names: list[str] | None = None
    label_kind: str = opt(
        "auto",
        "labels are classes or numeric values (auto: integers 0..K-1 and names are classes)",
        ["auto", "class", "value"],
    )
    format: str = opt(
        "auto",
        "auto: by suffix; JSON whose first record is a Twitter/X API record (v1.1 or v2) and "
        ".json/.jsonl compressed as .gz/.zst are read as a tweet dump",
        ["auto", "csv", "jsonl", "parquet", "tweets"],
    )
    normalize: str = opt(
        "auto",
        "tweeteval: user mentions → @user, links → http. auto: score reads texts as the heads' training "
        "texts were; extraction records tweeteval for a TweetEval folder (its texts come that way), "
        "none otherwise",
        ["auto", "none", "tweeteval"],
    )
    tweets: TweetOptions | None = None
    # scoring always keeps bad rows, with their reason
    on_bad_row: str = opt(
        "error",
        "stop at the first bad row, or skip and list bad rows in OUT/bad_rows.jsonl",
        ["error", "skip"],
    )


@dataclass(frozen=True)
class Compute:
    """How the model runs: batches, precision, device, and whether model code may come with it."""

    batch_size: int = opt(BATCH_SIZE, "texts per forward pass")
    max_tokens: int | None = opt(None, "cap on padded tokens per forward pass")
    dtype: str = opt(
        "auto",
        "compute dtype (auto: float32 on CPU, bf16/fp16 on CUDA)",
        ["auto", "float32", "float16", "bfloat16"],
    )
    device: str = opt("auto", "auto: CUDA when there is one, else cpu")
    trust_remote_code: bool = opt(False, "allow model code from the model folder")


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
