"""The null model of bench/pipeline.py, plugged in from outside the package.

A process started with this folder first on ``PYTHONPATH`` (bench/pipeline.py's ``--null`` runs, and
every Ray worker they start, which inherits the environment) runs this file at start-up. It waits for
``neuronhead.models.hooked`` to be imported, then swaps ``HookedModel.forward`` for
:func:`null_model.null_forward` and sets ``HookedModel.null_forward``, so every shard summary and
manifest says its values are stand-ins. Nothing is imported until neuronhead's model room is.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

TARGET = "neuronhead.models.hooked"


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201 (the finder protocol)
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module) -> None:  # noqa: ANN001
            load(module)
            from null_model import install

            install(module.HookedModel)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


sys.meta_path.insert(0, _PatchOnImport())
