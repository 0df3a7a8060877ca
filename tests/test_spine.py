"""``neuronhead.spine``: a dataclass field made with ``opt`` becomes a flag with its type, choices,
help and default, and the parsed flags become the dataclass again."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass

import pytest

from neuronhead.spine import add_flags, from_flags, opt


@dataclass(frozen=True)
class Demo:
    path: str = opt(MISSING, "where it goes")
    rate: float | None = opt(None, "how fast (5% is slow)", shown=0.25)
    count: int = opt(3, "how many")
    mode: str = opt("a", "which mode", ["a", "b"])
    on: bool = opt(True, "a switch that starts on")
    off: bool = opt(False, "a switch that starts off")
    hidden: int = 7  # no opt: not a flag


def _parser(**kw) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_flags(p, Demo, **kw)
    return p


def test_fields_become_flags_with_their_types_choices_and_defaults():
    args = _parser().parse_args(["--path", "x", "--rate", "0.5", "--count", "4", "--no-on", "--off"])
    assert from_flags(Demo, args) == Demo("x", 0.5, 4, "a", False, True)
    assert from_flags(Demo, _parser().parse_args(["--path", "x"])) == Demo("x")
    with pytest.raises(SystemExit):
        _parser().parse_args(["--path", "x", "--mode", "c"])
    with pytest.raises(SystemExit):
        _parser().parse_args([])  # a field without a default is a required flag
    assert "hidden" not in vars(_parser().parse_args(["--path", "x"]))


def test_help_states_each_default_and_what_none_stands_for():
    text = " ".join(_parser().format_help().split())
    assert "how many (default: 3)" in text and "how fast (5% is slow) (default: 0.25)" in text
    assert "a switch that starts on (default: on)" in text and "(default: off)" in text


def test_unset_defaults_tell_a_flag_given_from_one_left_out():
    args = _parser(unset_default=True).parse_args(["--count", "2"])
    assert (args.path, args.count, args.on, args.mode) == (None, 2, None, None)


def test_only_and_skip_choose_the_flags():
    assert {a.dest for a in _parser(only=("count",))._actions} == {"help", "count"}
    assert "mode" not in {a.dest for a in _parser(skip=("mode",))._actions}
