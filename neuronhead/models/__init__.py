"""Layer-hooked models: registry, loading, pooling and the hooked forward. Knows nothing of Ray."""

from neuronhead.models.hooked import HookedModel
from neuronhead.models.loading import DEFAULT_MODEL, LoadedModel, load_model, resolve_model_path, weights_hash
from neuronhead.models.registry import ArchSpec, register_architecture, spec_for, supported_model_types
from neuronhead.models.tokens import Tokenized, tokenize

__all__ = [
    "DEFAULT_MODEL",
    "ArchSpec",
    "HookedModel",
    "LoadedModel",
    "Tokenized",
    "load_model",
    "register_architecture",
    "resolve_model_path",
    "spec_for",
    "supported_model_types",
    "tokenize",
    "weights_hash",
]
