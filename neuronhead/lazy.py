"""Package names that import their module on first use, so importing a package stays cheap.

A Ray tokenize worker unpickles functions from ``neuronhead.pipelines`` and ``neuronhead.models``;
with eager ``__init__`` imports that alone pulled in torch and transformers for a step that needs
neither. The CLI builds its flags from option modules the same way, without torch or Ray.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``package``: ``name`` comes from ``package.where[name]``."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{where[name]}"), name)
        setattr(sys.modules[package], name, value)  # once: later lookups skip this function
        return value

    return __getattr__
