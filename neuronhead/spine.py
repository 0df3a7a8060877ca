"""Options declared once: a dataclass field carries its default, help and choices, and the command
line's flags, the config file's keys and docs/cli.md are generated from it.

Why: when a flag is written by hand beside the field it sets, the two drift (a default stated in one
place and changed in the other, a flag one command has and another lacks). Here a field made with
:func:`opt` is the only place its default and meaning are written.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from dataclasses import MISSING, field
from typing import Any, TypeVar

T = TypeVar("T")
_TYPES = {"int": int, "int | None": int, "float": float, "float | None": float}


def opt(
    default: Any = MISSING,
    help: str = "",
    choices: Iterable[str] | None = None,
    *,
    shown: Any = None,
    **kw: Any,
) -> Any:
    """A dataclass field that is also a flag (``--name-with-dashes``) with this help and choices.

    ``shown``: the default ``--help`` states when the field's own is ``None`` meaning "the estimator's
    default" (the estimator's constant, so the value is still written once)."""
    meta = {"help": help, "choices": list(choices) if choices is not None else None, "shown": shown}
    return field(default=default, metadata=meta, **kw)


def flag_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of ``cls`` declared with :func:`opt` (the others are not flags)."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]


def shown_default(f: dataclasses.Field) -> Any:
    """A field's default as ``--help`` shows it (``on``/``off`` for a switch); None when it has none."""
    default = None if f.default is MISSING else f.default
    if default is None:
        return f.metadata.get("shown")
    if isinstance(default, bool):
        return "on" if default else "off"
    return None if default == "" else default


def add_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    skip: Iterable[str] = (),
    only: Iterable[str] | None = None,
    unset_default: bool = False,
) -> None:
    """One flag per :func:`opt` field of ``cls``: its type, choices and help, with the default shown.

    ``unset_default``: every flag defaults to ``None``, so a caller can tell a flag given from one left
    out (``run`` lays the command line over a config file)."""
    skip, only = set(skip), None if only is None else set(only)
    for f in flag_fields(cls):
        if f.name in skip or (only is not None and f.name not in only):
            continue
        shown = shown_default(f)
        helped = f.metadata["help"] + (f" (default: {shown})" if shown is not None else "")
        helped = helped.replace("%", "%%")
        flag = "--" + f.name.replace("_", "-")
        required = f.default is MISSING and f.default_factory is MISSING and not unset_default
        default = None if unset_default or f.default is MISSING else f.default
        if f.type == "bool":
            action = argparse.BooleanOptionalAction if (f.default is True or unset_default) else "store_true"
            parser.add_argument(flag, action=action, default=default, help=helped)
        else:
            kind = _TYPES.get(str(f.type), str)
            parser.add_argument(
                flag,
                type=kind,
                default=default,
                choices=f.metadata["choices"],
                help=helped,
                required=required,
            )


def from_flags(cls: type[T], args: argparse.Namespace, **given: Any) -> T:
    """An instance of ``cls`` from the parsed flags named as its fields, plus ``given``."""
    names = {f.name for f in dataclasses.fields(cls)} - set(given)
    return cls(**{k: v for k, v in vars(args).items() if k in names}, **given)
