"""Layer-hooked models: registry, loading, pooling and the hooked forward. Knows nothing of Ray.

Names import their module on first use (``neuronhead.lazy``): a process that only tokenizes
(``models.tokens``) never imports torch or transformers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuronhead.lazy import lazy_exports

_WHERE = {
    "DEFAULT_MODEL": "loading",
    "ArchSpec": "registry",
    "HookedModel": "hooked",
    "LoadedModel": "loading",
    "PortableTokenizer": "tokens",
    "Tokenized": "tokens",
    "load_model": "loading",
    "register_architecture": "registry",
    "resolve_model_path": "loading",
    "spec_for": "registry",
    "supported_model_types": "registry",
    "tokenize": "tokens",
    "weights_hash": "loading",
}
__all__ = [
    "ArchSpec",
    "DEFAULT_MODEL",
    "HookedModel",
    "LoadedModel",
    "PortableTokenizer",
    "Tokenized",
    "load_model",
    "register_architecture",
    "resolve_model_path",
    "spec_for",
    "supported_model_types",
    "tokenize",
    "weights_hash",
]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from neuronhead.models.hooked import HookedModel
    from neuronhead.models.loading import (
        DEFAULT_MODEL,
        LoadedModel,
        load_model,
        resolve_model_path,
        weights_hash,
    )
    from neuronhead.models.registry import ArchSpec, register_architecture, spec_for, supported_model_types
    from neuronhead.models.tokens import PortableTokenizer, Tokenized, tokenize
