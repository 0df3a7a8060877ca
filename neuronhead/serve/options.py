"""What a served head accepts and how it batches, in one frozen group shared by the CLI, the app
builder of a Serve config file and the tests."""

from __future__ import annotations

from dataclasses import dataclass

MAX_EXPLAIN = 100  # top neurons per head an explanation may ask for


@dataclass(frozen=True)
class Limits:
    """Per request: a body over ``max_body_bytes`` or more than ``max_texts`` texts is refused (413)
    before any text reaches the model, so one client cannot hold a replica with one huge request."""

    max_texts: int = 64
    max_body_bytes: int = 1_048_576  # 1 MiB: 64 tweets many times over; a 100,000-character text fits

    def __post_init__(self) -> None:
        if self.max_texts < 1 or self.max_body_bytes < 1:
            raise ValueError("--max-texts and --max-body-bytes must be at least 1")


@dataclass(frozen=True)
class Batching:
    """Texts of concurrent requests are gathered up to ``max_batch_size`` texts, or until the first
    has waited ``batch_wait_ms``, and go through the model in one forward pass."""

    max_batch_size: int = 64
    batch_wait_ms: float = 10.0

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.batch_wait_ms < 0:
            raise ValueError("--max-batch-size must be at least 1 and --batch-wait-ms at least 0")


@dataclass(frozen=True)
class Serving:
    """Where the endpoint listens and how many replicas answer (each holds the model once)."""

    host: str = "127.0.0.1"
    port: int = 8000
    replicas: int = 1
    replica_cpus: float = 1.0

    def __post_init__(self) -> None:
        if self.replicas < 1 or self.replica_cpus <= 0:
            raise ValueError("--replicas must be at least 1")
