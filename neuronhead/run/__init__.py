"""The main job (``neuronhead run``) and the commands that start from raw data."""

from neuronhead.run.config import RunConfig, read_config_file, resolve_config
from neuronhead.run.job import run

__all__ = ["RunConfig", "read_config_file", "resolve_config", "run"]
