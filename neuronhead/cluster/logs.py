"""Whether Ray may talk on the terminal: ``--verbose`` or ``NEURONHEAD_VERBOSE=1``.

An environment variable, so that the choice reaches ``ray job submit`` entrypoints and Ray's workers
unchanged. Without it neuronhead's own lines and progress bars are all a command prints; Ray's logs
stay in its session folder (``<temp dir>/session_latest/logs``).
"""

from __future__ import annotations

import os

VERBOSE = "NEURONHEAD_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE) == "1"
