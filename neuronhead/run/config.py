"""The options of ``neuronhead run``: defaults, then a TOML or YAML file, then the command line.

One dataclass says what a run can be told; a config file holds any of its fields (``-`` or ``_`` in
names), and unknown keys are refused with the file and the key, so a typo never goes unnoticed.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunConfig:
    """Everything one run needs; paths are kept as given (relative to where the run starts)."""

    out: str
    train: str
    val: str | None = None
    test: str | None = None
    score: str | None = None
    model: str | None = None
    train_split: str | None = "train"
    val_split: str | None = "val"
    test_split: str | None = "test"
    score_split: str | None = None
    text_column: str = "text"
    id_column: str = "id"
    label_column: str = "label"
    label_kind: str = "auto"
    max_length: int = 128
    normalize: str = "auto"  # auto | none | tweeteval (see `neuronhead extract --normalize`)
    retweets: str = "keep"  # the --score tweet dump's retweets: keep | drop
    dedupe: bool = False  # filter the --score dump's repeated tweet ids
    lang: str | None = None  # keep only these languages of the --score dump, e.g. "en,es"
    task: str | None = None
    metric: str | None = None
    salient_fraction: float | None = None
    width: int | None = None
    max_layer: int | None = None
    seed: int = 0
    baselines: bool = True
    select_on: str = "auto"
    tune: int = 0
    tune_timeout: float | None = None
    engine: str = "auto"
    address: str | None = None
    examples: int = 5
    head_params: dict[str, Any] = field(default_factory=dict)

    def head_settings(self) -> dict[str, Any]:
        """The NeuronHead parameters this run sets (the rest keep the head's defaults)."""
        named = {"salient_fraction": self.salient_fraction, "width": self.width, "max_layer": self.max_layer}
        return {**{k: v for k, v in named.items() if v is not None}, "seed": self.seed, **self.head_params}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}
REQUIRED = [
    name
    for name, f in FIELDS.items()
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
]


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """A ``.toml``, ``.yaml`` or ``.yml`` file → ``{field: value}``, checked against :class:`RunConfig`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    text = path.read_text()
    if path.suffix == ".toml":
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
    elif path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            raw = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from None
    else:
        raise ValueError(f"{path}: a config file must end in .toml, .yaml or .yml")
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: the top level must be a table of options, not {type(raw).__name__}")
    out = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name not in FIELDS:
            known = ", ".join(sorted(n.replace("_", "-") for n in FIELDS))
            raise ValueError(f"{path}: unknown option {key!r}; known options: {known}")
        out[name] = value
    return out


def resolve_config(file_options: dict[str, Any], cli_options: dict[str, Any]) -> RunConfig:
    """Defaults ← config file ← command line (only options actually given on the command line)."""
    merged = {**file_options, **{k: v for k, v in cli_options.items() if v is not None}}
    missing = [name.replace("_", "-") for name in REQUIRED if merged.get(name) in (None, "")]
    if missing:
        raise ValueError(
            f"neuronhead run needs --{' and --'.join(missing)} (on the command line or in --config)"
        )
    for name, value in merged.items():
        _check_type(name, value)
    return RunConfig(**merged)


def _check_type(name: str, value: Any) -> None:
    kind = FIELDS[name].type
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "dict[str, Any]": isinstance(value, dict),
    }.get(kind)
    if kind in ("float | None",):
        ok = value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    elif kind in ("int | None",):
        ok = value is None or (isinstance(value, int) and not isinstance(value, bool))
    elif kind in ("str", "str | None"):
        ok = isinstance(value, str) or (value is None and kind == "str | None")
    if ok is False:
        raise ValueError(f"option {name.replace('_', '-')}: expected {kind}, got {value!r}")
