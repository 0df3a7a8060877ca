"""Phase-1 probes, salient-neuron selection and the Phase-2 head (issue: the two-phase neuron head)."""
