"""Phase-1 probes, salient-neuron selection and the Phase-2 head (the two-phase neuron head)."""

from neuronhead.heads.artifact import HeadError, load_head, save_head
from neuronhead.heads.head import NeuronHead
from neuronhead.heads.phase1 import LayerProbes
from neuronhead.heads.salient import select_random, select_salient
from neuronhead.heads.train import evaluate_head, fit_head

__all__ = [
    "HeadError",
    "LayerProbes",
    "NeuronHead",
    "evaluate_head",
    "fit_head",
    "load_head",
    "save_head",
    "select_random",
    "select_salient",
]
