"""What extraction and scoring workers share: a model half and a finishing half per shard.

``compute`` runs the model (the part that owns the CPU cores or the GPU); ``finish`` turns its result
into a Parquet shard and a summary (conversion, compression, the atomic write). The in-process engine
runs ``finish`` on a writer thread while the next shard's ``compute`` runs, so compression and the
disk no longer wait in line behind the model. Ray's actors call the two in turn: two concurrent calls
per actor slowed the forward more than the overlap saved (docs/decisions.md).
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from neuronhead.models.hooked import HookedModel
from neuronhead.models.loading import load_model
from neuronhead.models.tokens import Tokenized
from neuronhead.pipelines.shards import row_errors, step_seconds


@dataclass
class Computed:
    """One shard after the model: its packed columns, what the model returned, and when."""

    shard: dict[str, Any]
    errors: list[str | None]
    ok: list[int]
    outputs: dict = field(default_factory=dict)
    model_s: float = 0.0

    def steps(self, **later: float) -> dict[str, float]:
        return step_seconds(self.shard, model=self.model_s, **later)


def pick_device_dtype(device: str, dtype: str) -> tuple[str, str]:
    """CUDA when there is one; half precision there (bf16 where supported), fp32 on CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        if device.startswith("cuda"):
            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        else:
            dtype = "float32"
    return device, dtype


class ShardWorker:
    """Built once per actor (``actor_pool.ModelActor``) or once in-process.

    Subclasses set ``settings`` (with ``capture`` and ``compute`` option groups), call ``load`` once,
    and write ``finish``, which ends with ``summary``.
    """

    settings: Any
    hooked: HookedModel
    device: str
    dtype: str

    def load(self, layers: list[int], depth: int | None, **hooked: Any) -> None:
        """Torch threads, device and dtype, then the model's first ``depth`` blocks (all: ``None``)
        hooked at ``layers``; ``hooked`` passes on to :class:`HookedModel` (``neurons``, ``embeddings``)."""
        s = self.settings
        if s.torch_threads:
            torch.set_num_threads(s.torch_threads)
        self.device, self.dtype = pick_device_dtype(s.compute.device, s.compute.dtype)
        loaded = load_model(
            s.model_path,
            depth=depth,
            dtype=self.dtype,
            device=self.device,
            trust_remote_code=s.compute.trust_remote_code,
        )
        self.hooked = HookedModel(loaded, layers, pool_special_tokens=s.capture.pool_special_tokens, **hooked)

    def compute(self, shard: dict) -> Computed:
        """The forward pass over the shard's rows that can be pooled; the others carry their error."""
        t0 = time.perf_counter()
        n = len(shard["row"])
        capture, compute = self.settings.capture, self.settings.compute
        errors = row_errors(shard, capture.pool_special_tokens)
        ok = [i for i in range(n) if errors[i] is None]
        outputs = {}
        if ok:
            tokens = Tokenized(
                ids=[shard["input_ids"][i] for i in ok],
                special=[shard["special"][i] for i in ok],
                truncated=[shard["truncated"][i] for i in ok],
            )
            outputs = self.hooked.features(
                tokens, batch_size=compute.batch_size, max_tokens=compute.max_tokens
            )
        return Computed(shard, errors, ok, outputs, time.perf_counter() - t0)

    def finish(self, computed: Computed) -> dict:
        raise NotImplementedError

    def summary(self, computed: Computed, t0: float, **steps: float) -> dict:
        """What every finished shard reports (``shard_stats.json``): rows, errors, tokens, where the
        time went (``steps`` after the model, from ``t0``), and the worker's device, dtype and memory."""
        shard, n = computed.shard, len(computed.shard["row"])
        return {
            "shard": shard["shard"],
            "rows": n,
            "errors": n - len(computed.ok),
            "truncated": int(sum(shard["truncated"])),
            "tokens": int(sum(len(x) for x in shard["input_ids"])),
            "seconds": computed.model_s + time.perf_counter() - t0,
            "steps_s": computed.steps(**steps),
            "device": self.device,
            "dtype": self.dtype,
            **({"null_forward": True} if self.hooked.null_forward else {}),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
