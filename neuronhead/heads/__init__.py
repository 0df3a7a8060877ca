"""The estimators: Phase-1 probes, salient-neuron selection, the Phase-2 head and the ensemble, and
their files. Choosing and fitting them from a feature store is ``neuronhead.fitting``.

Names import their module on first use (``neuronhead.lazy``), so the CLI can read the head's option
declarations (``heads.options``) to build its flags without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuronhead.lazy import lazy_exports

_WHERE = {
    "HeadError": "artifact",
    "LayerProbes": "phase1",
    "NeuronHead": "head",
    "load_head": "artifact",
    "save_head": "artifact",
    "select_random": "salient",
    "select_salient": "salient",
}
__all__ = [
    "HeadError",
    "LayerProbes",
    "NeuronHead",
    "load_head",
    "save_head",
    "select_random",
    "select_salient",
]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from neuronhead.heads.artifact import HeadError, load_head, save_head
    from neuronhead.heads.head import NeuronHead
    from neuronhead.heads.phase1 import LayerProbes
    from neuronhead.heads.salient import select_random, select_salient
