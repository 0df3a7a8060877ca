from __future__ import annotations

import pytest
import transformers as T

from neuronhead.models import ArchSpec, load_model, register_architecture, spec_for, supported_model_types
from neuronhead.models.registry import _REGISTRY


@pytest.mark.parametrize(
    ("config", "name", "width", "layers"),
    [
        (T.BertConfig(intermediate_size=1536, num_hidden_layers=6), "bert", 1536, 6),
        (T.RobertaConfig(), "bert", 3072, 12),
        (T.DistilBertConfig(), "distilbert", 3072, 6),
        (T.GPT2Config(), "gpt2", 3072, 12),
        (T.GPT2Config(n_embd=1600, n_layer=48, n_head=25), "gpt2", 6400, 48),  # GPT2-XL shape
        (T.GPT2Config(n_embd=1024, n_layer=24, n_inner=4096), "gpt2", 4096, 24),  # GPT2-medium
    ],
)
def test_spec_knows_width_and_depth(config, name, width, layers):
    spec = spec_for(config)
    assert (spec.name, spec.ffn_width(config), spec.n_layers(config)) == (name, width, layers)


def test_unsupported_architecture_error_names_it_and_says_how_to_register():
    with pytest.raises(NotImplementedError) as err:
        spec_for(T.T5Config())
    assert "'t5'" in str(err.value) and "register_architecture" in str(err.value)


def test_registering_an_architecture_makes_it_loadable(tiny_models, monkeypatch):
    monkeypatch.setitem(_REGISTRY, "bert", None)  # pretend BERT were unknown...
    _REGISTRY.pop("bert")
    with pytest.raises(NotImplementedError):
        load_model(tiny_models["bert"])
    register_architecture(
        ArchSpec(
            name="my-bert",
            model_types=("bert",),
            blocks="encoder.layer",
            up_proj="intermediate.dense",
            down_proj="output.dense",
            layers_key="num_hidden_layers",
            width_keys=("intermediate_size",),
        )
    )
    assert load_model(tiny_models["bert"]).spec.name == "my-bert"
    assert "bert" in supported_model_types()
