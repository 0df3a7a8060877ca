"""Start Ray while this process imports torch and transformers, for commands that will surely use it.

Importing torch, transformers and the pipelines and starting Ray are both seconds of waiting, and
neither needs the other: a thread imports while the main thread starts Ray, so a command that runs
on Ray is ready sooner (``bench/ray_start.py``; docs/benchmarks/pipeline.md, "Feeding the model"). Nothing
here imports Ray at module level, so the CLI stays light.
"""

from __future__ import annotations

import contextlib
import importlib
import threading

from neuronhead.cluster.engines import joins_cluster


def uses_ray(engine: str | None, address: str | None) -> bool:
    """Whether ``--engine``/``--address`` mean Ray for sure, before anything is imported.

    ``auto`` without a cluster to join may still pick Ray on a GPU or a many-core machine, but telling
    needs torch; those commands start Ray where they did before.
    """
    if engine == "ray":
        return True
    return engine == "auto" and joins_cluster(address)


def _import_quietly(modules: tuple[str, ...]) -> None:
    # A failing import raises again, with its own traceback, where the command imports it.
    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def start_ray_early(address: str | None, modules: tuple[str, ...]) -> None:
    """``ensure_ray(address)`` in this thread while another imports ``modules``; returns when both are done.

    Ray starts in the calling (main) thread because it sets its SIGTERM handler only there. While it
    starts, ``ensure_ray`` sends file descriptor 2 to its start-up log, so whatever the importing thread
    writes to stderr then (import-time warnings) lands there too, replayed only if the start fails.
    """
    loader = threading.Thread(target=_import_quietly, args=(modules,), name="neuronhead-imports", daemon=True)
    loader.start()
    try:
        from neuronhead.cluster.connect import ensure_ray

        ensure_ray(address)
    finally:
        loader.join()
