"""``get_params`` / ``set_params`` as scikit-learn defines them, read from the ``__init__`` signature.

scikit-learn is not a dependency; this mixin gives the heads its estimator contract anyway, so code
that clones an estimator from its parameters (``type(e)(**e.get_params(deep=False))``), grid searches
and a saved head's parameter record all see one list: the signature. ``__init__`` must store each
parameter untouched under its own name, and leave checking to ``fit``.
"""

from __future__ import annotations

import inspect
from typing import Any, Self


class StateError(ValueError):
    """Saved state whose parts disagree (an array missing or of the wrong shape for its record)."""


class Params:
    """An estimator whose ``__init__`` parameters are its parameters (no ``*args``/``**kwargs``)."""

    @classmethod
    def param_names(cls) -> list[str]:
        """The ``__init__`` parameters, in signature order."""
        names = []
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ takes *{p.name}: its parameters must be named")
            if p.name != "self":
                names.append(p.name)
        return names

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """``{name: value}``; with ``deep``, an estimator-valued parameter's own as ``name__sub``."""
        out: dict[str, Any] = {}
        for name in self.param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Self:
        """Set parameters (``name__sub`` reaches into an estimator-valued one); unknown names raise."""
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, nest, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"invalid parameter {name!r} for {type(self).__name__}; valid: {self.param_names()}"
                )
            if nest:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self
