"""The shared-storage check: a one-machine Ray is not checked (the refusal on a real cluster, naming the
node that does not share the folder, is in test_multinode.py)."""

from __future__ import annotations

import pytest

from neuronhead.cluster.connect import ensure_ray
from neuronhead.cluster.storage import check_shared_storage

pytestmark = pytest.mark.slow


def test_a_single_machine_needs_no_shared_storage(tmp_path):
    ensure_ray(num_cpus=2)
    assert check_shared_storage(tmp_path / "out", [str(tmp_path)]) == 0
    assert not (tmp_path / "out").exists()  # nothing written, no task run
