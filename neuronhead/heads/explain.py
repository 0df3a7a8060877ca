"""Why a head said what it said for one text: each salient neuron's share of the output.

A head's output is a function of its salient neurons' standardized pooled values. The reference
point is the training mean of every neuron (a standardized value of 0): each neuron's contribution
is how much it moves the explained output away from the head's output at that point.

- **Linear heads** (a single probe, or a linear Phase 2): the output is linear in the values, so the
  contributions are exact: ``output = baseline + sum(contributions)`` to rounding.
- **Dense heads** (a hidden GELU layer): the contributions are integrated gradients along the straight
  line from the reference point to the text's values (Sundararajan et al., 2017). They add up to
  ``output - baseline`` up to the error of the integral's midpoint sum, reported as ``residual``.
  Like any attribution of a non-linear function, they say how the output moves along that path, not
  what removing one neuron would do.

The per-layer probes before Phase 2 are linear: each neuron's exact share of its own layer probe's
logit for the explained class is given too (``probe``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

STEPS = 128  # midpoint sum of the integral: residuals below 1e-3 of a logit on the heads measured


@dataclass(frozen=True)
class Attribution:
    """One text's output split over the head's salient neurons (arrays in the head's neuron order)."""

    target: int  # the explained output: a class (its logit) or 0 (a regression head's value)
    output: float
    baseline: float  # the output at the training mean of every salient neuron
    method: str
    residual: float  # output - baseline - contributions.sum()
    layer: np.ndarray
    index: np.ndarray
    contribution: np.ndarray
    probe: np.ndarray | None  # exact share of the neuron's layer-probe logit for ``target``

    def top(self, n: int) -> np.ndarray:
        """Positions of the ``n`` neurons that moved the output most, either way."""
        check_top(n)
        return np.argsort(-np.abs(self.contribution), kind="stable")[:n]


def check_top(top: int) -> None:
    """``top`` counts neurons to list: a slice by a negative number would quietly list all but some."""
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise ValueError(f"top must be a whole number of neurons, at least 1, not {top!r}")


def is_linear(head) -> bool:
    """A Phase 2 without a hidden layer: the head is linear in its neurons' values (an ensemble,
    a mean of probabilities, never is)."""
    if head.variant == "ensemble":
        return False
    return sum(isinstance(m, torch.nn.Linear) for m in head.net_.modules()) == 1


def attribute(
    head, values: Mapping[int, np.ndarray], target: int | None = None, steps: int = STEPS
) -> Attribution:
    """Split ``head``'s output for one text over its neurons; ``values`` is ``{layer: (2, k)}`` pooled
    (mean, max) values of the head's neurons. ``target`` defaults to the predicted class."""
    std = np.concatenate(
        [
            ((np.asarray(values[layer], np.float64) - head.mean_[layer]) / head.scale_[layer]).reshape(-1)
            for layer in head.layers_
        ]
    )
    net = _ExplainedEnsemble(head) if head.variant == "ensemble" else _Explained(head)
    x = torch.from_numpy(std)[None]
    with torch.no_grad():
        out = net(x)[0]
    if target is None:
        target = 0 if head.task == "regression" else int(out.argmax())
    exact = is_linear(head)
    n_steps = 1 if exact else steps
    alphas = (torch.arange(n_steps, dtype=torch.float64) + 0.5) / n_steps
    path = (alphas[:, None] * x).requires_grad_(True)
    grads = torch.autograd.grad(net(path)[:, target].sum(), path)[0]
    shares = (x[0] * grads.mean(0)).detach().numpy()
    with torch.no_grad():
        output, baseline = float(out[target]), float(net(torch.zeros_like(x))[0, target])
    layer, index = _neuron_ids(head)
    return Attribution(
        target=target,
        output=output,
        baseline=baseline,
        method="exact (linear head)" if exact else f"integrated gradients ({n_steps} steps)",
        residual=output - baseline - float(shares.sum()),
        layer=layer,
        index=index,
        contribution=_per_neuron(shares, head),
        probe=None if head.variant in ("values", "ensemble") else _probe_shares(head, std, target),
    )


class _Explained(torch.nn.Module):
    """The head from standardized neuron values to its outputs, in float64 and differentiable:
    the same operations as :meth:`NeuronHead.dense_inputs` and ``net_`` (a test holds them equal).
    A regression head's output is in the target's units."""

    def __init__(self, head) -> None:
        super().__init__()
        self.head = head
        self.net = copy.deepcopy(head.net_).double().eval()
        self.sizes = [2 * len(head.neurons_[layer]) for layer in head.layers_]
        as64 = lambda a: torch.as_tensor(np.asarray(a, np.float64))  # noqa: E731
        self.weight = [as64(head.probe_weight_[layer]) for layer in head.layers_]
        self.bias = [as64(head.probe_bias_[layer]) for layer in head.layers_]
        self.z_mean, self.z_scale = as64(head.z_mean_), as64(head.z_scale_)
        regression = head.task == "regression"
        self.scale = float(head.y_scale_) if regression else 1.0
        self.shift = float(head.y_mean_) if regression else 0.0

    def forward(self, std: torch.Tensor) -> torch.Tensor:
        parts = list(torch.split(std, self.sizes, dim=1))
        inputs = []
        if self.head.variant != "values":
            logits = [p @ w.T + b for p, w, b in zip(parts, self.weight, self.bias, strict=True)]
            inputs.append(torch.stack(logits, 1).reshape(len(std), -1))
        if "values" in self.head.variant:
            inputs += parts
        z = (torch.cat(inputs, 1) - self.z_mean) / self.z_scale
        return self.net(z) * self.scale + self.shift


class _ExplainedEnsemble(torch.nn.Module):
    """An ensemble from the standardized values of its members' union to its output: each member's
    :class:`_Explained` on its own columns, then the log of their mean probability (a regression
    ensemble: their mean value), as :meth:`EnsembleHead.decision_values` computes it."""

    def __init__(self, head) -> None:
        super().__init__()
        self.members = torch.nn.ModuleList(_Explained(m) for m in head.members_)
        self.columns = [torch.as_tensor(_member_columns(head, pos)) for pos in head.member_positions_]
        self.regression = head.task == "regression"

    def forward(self, std: torch.Tensor) -> torch.Tensor:
        outs = torch.stack([m(std[:, c]) for m, c in zip(self.members, self.columns, strict=True)])
        return outs.mean(0) if self.regression else torch.log(torch.softmax(outs, 2).mean(0))


def _member_columns(head, positions: Mapping[int, np.ndarray]) -> np.ndarray:
    """Where a member's values (layer after layer, its neurons' means then maxes) sit in the union's,
    from the member's ``positions`` among the union's neurons per layer."""
    start, out = 0, []
    for layer in head.layers_:
        k = len(head.neurons_[layer])
        if layer in positions:
            out += [start + positions[layer], start + k + positions[layer]]
        start += 2 * k
    return np.concatenate(out)


def _neuron_ids(head) -> tuple[np.ndarray, np.ndarray]:
    layer = np.concatenate([np.full(len(head.neurons_[ly]), ly) for ly in head.layers_]).astype(np.int64)
    index = np.concatenate([np.asarray(head.neurons_[ly], np.int64) for ly in head.layers_])
    return layer, index


def _by_layer(head, flat: np.ndarray) -> list[np.ndarray]:
    """Values in the head's order (layer after layer, each its neurons' means then maxes) as one
    ``(2, k)`` block per layer."""
    sizes = [2 * len(head.neurons_[layer]) for layer in head.layers_]
    return [block.reshape(2, -1) for block in np.split(flat, np.cumsum(sizes)[:-1])]


def _per_neuron(shares: np.ndarray, head) -> np.ndarray:
    """A neuron's share is that of its pooled mean plus that of its pooled max."""
    return np.concatenate([block.sum(0) for block in _by_layer(head, shares)])


def _probe_shares(head, std: np.ndarray, target: int) -> np.ndarray:
    """Each neuron's exact term in its layer probe's logit for ``target`` (the probe bias apart)."""
    weights = [np.asarray(head.probe_weight_[layer], np.float64)[target] for layer in head.layers_]
    blocks = _by_layer(head, std)
    return np.concatenate([(w.reshape(2, -1) * v).sum(0) for w, v in zip(weights, blocks, strict=True)])


def explanation_record(
    head,
    a: Attribution,
    values: Mapping[int, np.ndarray],
    tokens: Mapping[int, np.ndarray],
    words: tuple[list[str], list[bool]],
    top: int,
) -> dict:
    """``a`` as JSON for people: the output, its baseline and method, the ``top`` neurons, each with
    its id ``L<layer>.N<index>``, share, pooled mean and max, and the three pooled tokens with its
    highest activations, and the other neurons' shares together (``other``), so that listed shares +
    ``other`` + ``residual`` + ``baseline`` = ``output``. ``values``/``tokens``: ``{layer: (2, k)}``
    and ``{layer: (tokens, k)}`` of the head's neurons; ``words``: the text's tokens as strings and
    which of them are pooled."""
    names, pooled = words
    at = {}
    for layer in head.layers_:
        for j, idx in enumerate(head.neurons_[layer]):
            at[(layer, int(idx))] = j
    neurons = []
    listed = a.top(top)
    for i in listed:
        layer, idx = int(a.layer[i]), int(a.index[i])
        j = at[(layer, idx)]
        column = np.where(pooled, tokens[layer][:, j], -np.inf)
        best = [t for t in np.argsort(-column, kind="stable")[:3] if np.isfinite(column[t])]
        neurons.append(
            {
                "neuron": f"L{layer}.N{idx}",
                "contribution": float(a.contribution[i]),
                "probe": None if a.probe is None else float(a.probe[i]),
                "mean": float(values[layer][0, j]),
                "max": float(values[layer][1, j]),
                "tokens": [[names[t], float(tokens[layer][t, j])] for t in best],
            }
        )
    regression = head.task == "regression"
    labels = head.label_names_ or [str(k) for k in range(head.n_outputs_)]
    rest = np.delete(a.contribution, listed)
    return {
        "label": a.output if regression else labels[a.target],
        "explained": "value" if regression else f"logit of {labels[a.target]}",
        "output": a.output,
        "baseline": a.baseline,
        "method": a.method,
        "residual": a.residual,
        "neurons": neurons,
        "other": {"neurons": len(rest), "contribution": float(rest.sum())},
    }


def explanation_lines(name: str, record: dict) -> list[str]:
    """A terminal table of :func:`explanation_record`'s output whose share column adds up to the
    output: the listed neurons, the other ones together, the residual and the baseline; then what
    the columns are."""
    explained, probes = record["explained"], any(n["probe"] is not None for n in record["neurons"])

    def row(label: str, share: float | str, rest: str = "") -> str:
        share = share if isinstance(share, str) else f"{share:+.3f}"
        return f"    {label:<20}{share:>8}{rest}".rstrip()

    lines = [
        f"  {name}: {record['label']} ({explained} = {record['output']:.3f}; {record['method']})",
        row("neuron", "share", f"{'probe':>8}{'mean':>8}{'max':>8}  highest activations (pooled tokens)"),
    ]
    for n in record["neurons"]:
        probe = "" if n["probe"] is None else f"{n['probe']:+.3f}"
        where = ", ".join(f"{tok!r} {v:.2f}" for tok, v in n["tokens"])
        where = where if n["max"] > 0 else f"none above 0: {where}"  # GELU's negative side: not firing
        values = f"{probe:>8}{n['mean']:>8.3f}{n['max']:>8.3f}"
        lines.append(row(n["neuron"], n["contribution"], f"{values}  {where}"))
    error = "rounding" if record["method"].startswith("exact") else "the error of the integral's sum"
    lines += [
        row(f"other {record['other']['neurons']} neurons", record["other"]["contribution"]),
        row("residual", record["residual"], f"  {error}"),
        row("baseline", record["baseline"], "  the output with every neuron at its training mean"),
        row("= output", record["output"], f"  {explained}"),
        f"    share: how far each moves the {explained} away from the baseline; the column sums to = output.",
        (
            f"    probe: the neuron's exact share of its own layer probe's {explained} (not in that sum)"
            if probes
            else "    probe: none (an ensemble has no single layer probe per neuron)"
        )
        + "; mean, max: its pooled activations.",
    ]
    return lines
