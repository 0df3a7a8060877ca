"""What a served head accepts and how it batches, in one frozen group shared by the CLI, the app
builder of a Serve config file and the tests."""

from __future__ import annotations

from dataclasses import dataclass

from neuronhead.spine import opt

MAX_EXPLAIN = 100  # top neurons per head an explanation may ask for


@dataclass(frozen=True)
class Limits:
    """Per request: a body over ``max_body_bytes`` or more than ``max_texts`` texts is refused (413)
    before any text reaches the model, so one client cannot hold a replica with one huge request."""

    max_texts: int = opt(64, "texts per request; more: 413")
    # 1 MiB: 64 tweets many times over; a 100,000-character text fits
    max_body_bytes: int = opt(1_048_576, "request body size in bytes; more: 413")

    def __post_init__(self) -> None:
        if self.max_texts < 1 or self.max_body_bytes < 1:
            raise ValueError("--max-texts and --max-body-bytes must be at least 1")


@dataclass(frozen=True)
class Batching:
    """Texts of concurrent requests are gathered up to ``max_batch_size`` texts, or until the first
    has waited ``batch_wait_ms``, and go through the model in one forward pass."""

    max_batch_size: int = opt(64, "texts of concurrent requests per forward pass")
    batch_wait_ms: float = opt(10.0, "how long the first text waits for others, in milliseconds")

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.batch_wait_ms < 0:
            raise ValueError("--max-batch-size must be at least 1 and --batch-wait-ms at least 0")


@dataclass(frozen=True)
class Serving:
    """Where the endpoint listens and how many replicas answer (each holds the model once)."""

    host: str = opt("127.0.0.1", "address the HTTP proxy binds (the default: loopback only)")
    port: int = opt(8000, "port of the HTTP proxy")
    replicas: int = opt(1, "replicas, each with the model loaded once")
    replica_cpus: float = 1.0

    def __post_init__(self) -> None:
        if self.replicas < 1 or self.replica_cpus <= 0:
            raise ValueError("--replicas must be at least 1")


@dataclass(frozen=True)
class Ingress:
    """The HTTP front (``HeadIngress``) before the model replicas: the API key it asks for, and how
    many times it sends a request again when the model replica holding it died (a prediction is a
    pure function of the text and the heads, so sending it again is always safe)."""

    api_key_file: str = opt(
        "",
        "file holding the API key (one a line; default: none, no key asked): requests without "
        "'Authorization: Bearer KEY' get 401; /healthz stays open",
    )
    retries: int = opt(3, "times a request goes to another model replica when its replica died")

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("--retries must be at least 0")


@dataclass(frozen=True)
class LocalRay:
    """The Ray that ``neuronhead serve`` starts itself (without ``--address``): on a cluster, each
    node's metrics port is ``ray start --metrics-export-port``."""

    metrics_port: int = opt(0, "port of Ray's Prometheus metrics (/metrics, on 127.0.0.1); 0: a free one")
