"""Where each architecture keeps its FFN neurons.

One small :class:`ArchSpec` per architecture says where the blocks are, which module consumes the
post-activation FFN tensor (the down-projection: a forward pre-hook there sees exactly that tensor),
how wide it is and which config key sets the number of layers. A new architecture is a new entry
(:func:`register_architecture`), not a new code path.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import PretrainedConfig


@dataclass(frozen=True)
class ArchSpec:
    """How to find the post-activation FFN tensor of one architecture family."""

    name: str
    model_types: tuple[str, ...]
    blocks: str  # attribute path from ``model.base_model`` to the list of blocks
    up_proj: str  # path inside a block: the FFN's first linear (its input feeds the activation)
    down_proj: str  # path inside a block: consumes the post-activation tensor (pre-hook point)
    layers_key: str  # config key for the number of blocks
    width_keys: tuple[str, ...]  # config keys tried in order for the FFN width
    width_multiple_of: str = ""  # fallback: width = 4 * config[width_multiple_of]
    act_key: str = "hidden_act"
    conv1d: bool = False  # GPT-2 style Conv1D weights, stored (in, out)
    pad_with_eos: bool = False  # decoders without a pad token

    def n_layers(self, config: PretrainedConfig) -> int:
        return int(getattr(config, self.layers_key))

    def ffn_width(self, config: PretrainedConfig) -> int:
        for key in self.width_keys:
            value = getattr(config, key, None)
            if value:
                return int(value)
        if self.width_multiple_of:
            return 4 * int(getattr(config, self.width_multiple_of))
        raise ValueError(f"{self.name}: cannot tell the FFN width from config keys {self.width_keys}")

    def activation_name(self, config: PretrainedConfig) -> str:
        return str(getattr(config, self.act_key))


_REGISTRY: dict[str, ArchSpec] = {}


def register_architecture(spec: ArchSpec) -> ArchSpec:
    """Make an architecture hookable: map each of its ``config.model_type`` values to ``spec``."""
    for model_type in spec.model_types:
        _REGISTRY[model_type] = spec
    return spec


def supported_model_types() -> list[str]:
    return sorted(_REGISTRY)


def spec_for(config: PretrainedConfig) -> ArchSpec:
    """The spec for a config, or an error that names the architecture and how to add it."""
    model_type = getattr(config, "model_type", None)
    if model_type in _REGISTRY:
        return _REGISTRY[model_type]
    raise NotImplementedError(
        f"architecture {model_type!r} is not supported (supported: {', '.join(supported_model_types())}). "
        "Register it with neuronhead.models.register_architecture(ArchSpec(name=..., model_types=("
        f"{model_type!r},), blocks=<path to the block list from model.base_model>, up_proj=..., "
        "down_proj=<module whose input is the post-activation FFN tensor>, layers_key=..., width_keys=...))."
    )


BERT = register_architecture(
    ArchSpec(
        name="bert",
        model_types=("bert", "roberta", "xlm-roberta", "camembert", "electra"),
        blocks="encoder.layer",
        up_proj="intermediate.dense",
        down_proj="output.dense",
        layers_key="num_hidden_layers",
        width_keys=("intermediate_size",),
    )
)

DISTILBERT = register_architecture(
    ArchSpec(
        name="distilbert",
        model_types=("distilbert",),
        blocks="transformer.layer",
        up_proj="ffn.lin1",
        down_proj="ffn.lin2",
        layers_key="n_layers",
        width_keys=("hidden_dim",),
        act_key="activation",
    )
)

GPT2 = register_architecture(
    ArchSpec(
        name="gpt2",
        model_types=("gpt2",),
        blocks="h",
        up_proj="mlp.c_fc",
        down_proj="mlp.c_proj",
        layers_key="n_layer",
        width_keys=("n_inner",),
        width_multiple_of="n_embd",
        act_key="activation_function",
        conv1d=True,
        pad_with_eos=True,
    )
)
