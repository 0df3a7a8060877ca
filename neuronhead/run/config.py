"""The options of ``neuronhead run``: defaults, then a TOML or YAML file, then the command line.

One dataclass says what a run can be told; a config file holds any of its fields (``-`` or ``_`` in
names), and unknown keys are refused with the file and the key, so a typo never goes unnoticed.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

from neuronhead.heads.options import HeadOptions
from neuronhead.models.tokens import MAX_LENGTH
from neuronhead.spine import opt as _opt


@dataclass(frozen=True, kw_only=True)
class RunConfig(HeadOptions):
    """Everything one run needs; paths are kept as given (relative to where the run starts).

    Each field's ``help`` (and ``choices``) is what ``neuronhead run --help`` shows: the command
    line's flags are built from these fields, so the two cannot drift apart.
    """

    out: str = _opt(MISSING, "run folder (rerun to resume)")
    train: str = _opt(MISSING, "labelled training data (any input `extract` reads)")
    val: str | None = _opt(None, "labelled validation data (default: the val split of --train)")
    test: str | None = _opt(None, "labelled test data, evaluated once at the end")
    score: str | None = _opt(None, "texts to score with the final head")
    model: str | None = _opt(None, "model folder or hub id (default: the bundled MiniLM)")
    train_split: str | None = _opt("train", "split of a TweetEval folder for --train")
    val_split: str | None = _opt("val", "split of a TweetEval folder for --val")
    test_split: str | None = _opt("test", "split of a TweetEval folder for --test")
    score_split: str | None = _opt(None, "split of a TweetEval folder for --score")
    text_column: str = _opt("text", "column holding the text")
    id_column: str = _opt("id", "column holding the row id")
    label_column: str = _opt("label", "column holding the label")
    label_kind: str = _opt("auto", "labels are classes or numeric values", ["auto", "class", "value"])
    max_length: int = _opt(MAX_LENGTH, "tokens per text")
    normalize: str = _opt(
        "auto",
        "tweeteval: mentions → @user, links → http, for every input; auto: recorded as tweeteval for a "
        "TweetEval folder, and --score is read the way the head's texts were",
        ["auto", "none", "tweeteval"],
    )
    retweets: str = _opt("keep", "--score tweet dump: retweets", ["keep", "drop"])
    dedupe: bool = _opt(False, "--score tweet dump: filter repeated tweet ids")
    lang: str | None = _opt(None, "--score tweet dump: keep only these languages (en,es)")
    task: str | None = _opt(None, "classification or regression", ["classification", "regression"])
    metric: str | None = _opt(None, "headline metric (default: the TweetEval task's metric)")
    baselines: bool = _opt(True, "fit the baselines beside the head")
    prefer: str = _opt(
        "robust",
        "what ships, as for `fit`: robust (the ensemble) or cheaper (the earliest model within noise)",
        ["robust", "cheaper"],
    )
    select_on: str = _opt(
        "auto",
        "with prefer cheaper, where candidates are compared, as for `fit` (none: the head as set)",
        ["auto", "dev", "cv", "val", "none"],
    )
    tune: int = _opt(0, "search N trials and use the best head (0: none)")
    tune_timeout: float | None = _opt(None, "time budget of the search (stops every trial)")
    engine: str = "auto"  # flags shared with the other commands: the CLI's engine group
    address: str | None = None
    examples: int = _opt(5, "texts shown per neuron in the report")
    explain_texts: int = _opt(2, "validation texts per class explained in the report (0: none)")
    head_params: dict[str, Any] = field(default_factory=dict)  # config file only: NeuronHead's own names

    def head_settings(self) -> dict[str, Any]:
        """The NeuronHead parameters this run sets (the rest keep the head's defaults): the head's
        flags, then the config file's ``head_params`` in the estimator's own names."""
        return {**HeadOptions.head_params(self), **self.head_params}

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
