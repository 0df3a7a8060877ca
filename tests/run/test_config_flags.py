"""``neuronhead run``'s flags are built from ``RunConfig``: every field a user sets has one flag, and a
flag given on the command line reaches the config with its type."""

from __future__ import annotations

import dataclasses

import pytest

from neuronhead.cli import build_parser
from neuronhead.run.config import FIELDS, RunConfig, resolve_config

SHARED = {"engine", "address"}  # the engine group every command shares
FILE_ONLY = {"head_params"}  # NeuronHead's own parameter names: a config file's table


def _run_parser():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices["run"]


def test_every_field_has_exactly_one_flag_and_no_flag_lacks_a_field():
    dests = {a.dest for a in _run_parser()._actions} - {"help", "config", "verbose"}
    assert dests == set(FIELDS) - FILE_ONLY
    assert {f.name for f in dataclasses.fields(RunConfig) if "help" not in f.metadata} == SHARED | FILE_ONLY


def test_flags_carry_the_fields_types_choices_and_only_given_ones_override_the_file():
    args = _run_parser().parse_args(
        ["--train", "t", "--out", "o", "--max-length", "64", "--salient-fraction", "0.2", "--no-baselines"]
    )
    given = {k: v for k, v in vars(args).items() if k in FIELDS}
    config = resolve_config({"seed": 7, "max_length": 32}, given)
    assert (config.max_length, config.salient_fraction, config.baselines, config.seed) == (64, 0.2, False, 7)
    with pytest.raises(SystemExit):
        _run_parser().parse_args(["--select-on", "test"])  # not one of the field's choices
