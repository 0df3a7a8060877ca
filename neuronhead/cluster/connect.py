"""Start or join Ray: everything it binds locally stays on 127.0.0.1, the dashboard is off unless asked.

Pool sizes live in ``neuronhead.cluster.sizing``, which does not import Ray.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import ray

from neuronhead.cluster.logs import verbose


def default_temp_dir() -> str:
    """A Ray temp dir this user owns (Ray's default is shared by everyone under the system temp dir)."""
    return str(Path(tempfile.gettempdir()) / f"neuronhead-ray-{os.getuid()}")


def ensure_ray(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    dashboard: bool = False,
    dashboard_host: str = "127.0.0.1",
    temp_dir: str | None = None,
    metrics_export_port: int | None = None,
) -> None:
    """Connect once: to ``address`` when given, else a fresh in-process local instance.

    ``metrics_export_port``: where a local instance serves its Prometheus metrics (Ray's own and the
    application's, on 127.0.0.1 as the node's address is); unset, Ray picks a free port.

    Inside a Ray job (``ray job submit``) Ray sets ``RAY_ADDRESS``: the job then uses its cluster.
    Unless ``verbose()``, Ray logs only errors here and keeps its workers' output in the session's
    ``logs/`` folder; exceptions from the workers still reach this process.
    """
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DISABLE_DOCKER_CPU_WARNING", "1")
    # Ray renices its workers to 15; the model actors *are* the work here, and at nice 15 they lose
    # the CPU to the driver, raylet and GCS polling (docs/benchmarks/pipeline.md, "Ray pipeline").
    os.environ.setdefault("RAY_worker_niceness", "0")
    loud = verbose()
    if not loud:
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    common = {"logging_level": logging.INFO if loud else logging.ERROR, "log_to_driver": loud}
    if not address:
        temp_dir = temp_dir or default_temp_dir()
        common |= {
            "address": "local",  # always a fresh instance: a stale cluster file cannot break it
            "num_cpus": num_cpus,
            "include_dashboard": dashboard,
            "dashboard_host": dashboard_host,
            "_node_ip_address": "127.0.0.1",
            "_temp_dir": temp_dir,
        }
        if metrics_export_port:
            common["_metrics_export_port"] = metrics_export_port
    log = Path(temp_dir or tempfile.gettempdir()) / f"neuronhead-ray-init-{os.getpid()}.log"
    with nullcontext() if loud else _native_stderr_to(log):
        ray.init(address=address, **common) if address else ray.init(**common)
    quiet_ray_data()


@contextmanager
def _native_stderr_to(path: Path) -> Iterator[None]:
    """Send file descriptor 2 to ``path`` while Ray starts; replay it if the start fails.

    Ray's C++ core writes its start-up lines (a probe of 8.8.8.8 for the local IP that the loopback
    sandbox refuses, the log level it read from the environment) straight to the descriptor, past
    Python's logging. A failed start still shows them, followed by the exception.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "wb") as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            except BaseException:
                os.dup2(saved, 2)
                sys.stderr.write(path.read_text(errors="replace"))
                raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        path.unlink(missing_ok=True)


def quiet_ray_data() -> None:
    """neuronhead shows its own progress; Ray Data's bars and INFO lines would interleave with it."""
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.INFO if verbose() else logging.ERROR)
