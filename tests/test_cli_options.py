"""Options are declared once (``neuronhead.spine``): every flag states its help and default, and
``run`` and ``fit`` take the same head options, which reach the head as the same parameters."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from neuronhead.cli import build_parser
from neuronhead.heads.options import SALIENT_FRACTION, WIDTH, HeadOptions
from neuronhead.run.config import FIELDS, read_config_file, resolve_config

HEAD_ARGS = [
    "--salient-share", "0.6", "--width", "8", "--variant", "logits", "--max-layer", "2",
    "--folds", "2", "--phase1-epochs", "4", "--class-weight", "none", "--seed", "3",
]  # fmt: skip


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_flag_has_help_and_states_its_default():
    for name, parser in _commands().items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            text = formatter._get_help_string(action)
            assert text, f"neuronhead {name} {action.option_strings}: no help"
            if action.default not in (None, False):
                assert "default" in text, f"neuronhead {name} {action.option_strings}: default not shown"


def test_a_default_the_estimator_keeps_is_shown_as_its_value():
    fit_help = _commands()["fit"].format_help()
    assert f"(default: {SALIENT_FRACTION})" in fit_help and f"(default: {WIDTH})" in fit_help


def test_run_and_fit_take_the_same_head_options_and_set_the_same_head():
    commands = _commands()
    head = {f.name for f in dataclasses.fields(HeadOptions)}
    for name in ("run", "fit"):
        assert head <= {a.dest for a in commands[name]._actions}, name
    fit = commands["fit"].parse_args(["--train", "t", "--out", "o", *HEAD_ARGS])
    run = commands["run"].parse_args(["--train", "t", "--out", "o", *HEAD_ARGS])
    from_fit = HeadOptions(**{k: getattr(fit, k) for k in head}).head_params()
    config = resolve_config({}, {k: v for k, v in vars(run).items() if k in FIELDS})
    assert config.head_settings() == from_fit
    assert from_fit == {
        "salient_share": 0.6, "salient_fraction": None, "width": 8, "variant": "logits", "max_layer": 2,
        "class_weight": None, "seed": 3, "probe_params": {"folds": 2, "max_epochs": 4},
    }  # fmt: skip


def test_a_config_file_takes_the_head_options_by_the_same_names(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('train = "t"\nout = "o"\nvariant = "logits"\nphase1-epochs = 4\n')
    config = resolve_config(read_config_file(path), {})
    assert config.head_settings() == {"variant": "logits", "seed": 0, "probe_params": {"max_epochs": 4}}


def test_unset_head_options_leave_the_estimator_defaults():
    """Only what was asked for is recorded, so a run's stage keys stay those of earlier runs."""
    assert HeadOptions().head_params() == {"seed": 0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        HeadOptions().width = 3  # type: ignore[misc]
