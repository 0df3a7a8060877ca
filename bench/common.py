"""What the bench scripts share, so each states only what it measures.

- where the shared data lives and how its texts and labels are read;
- the machine a figure was measured on, recorded in every JSON beside the figure;
- the random-weight models the scale benches build (no download) and the float64 recomputation that
  checks their captured features;
- how results are written: JSON files and the ``RESULT`` line a parent process reads.

Every script runs as ``python bench/NAME.py``, which puts this folder first on ``sys.path``: a plain
``from common import ...`` finds this file, no ``sys.path`` edit needed.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TWEETEVAL = ROOT.parent / "shared" / "data" / "tweeteval"
CARRIED = ROOT / ".gpudata"  # TweetEval sentiment and MiniLM's config + tokenizer, carried to a device
STANCE = ["stance_abortion", "stance_atheism", "stance_climate", "stance_feminist", "stance_hillary"]
RESULT = "RESULT "  # the line a parent process (or a log reader) picks a script's result from
EOS = "<|endoftext|>"

T = TypeVar("T")

# -- the shared data ---------------------------------------------------------------------------------


def tweeteval_folder(task: str = "sentiment") -> Path:
    """A TweetEval task folder: the shared data's, else the copy carried to a device machine."""
    for folder in (TWEETEVAL / task, CARRIED / task):
        if folder.exists():
            return folder
    raise FileNotFoundError(f"no TweetEval {task} at {TWEETEVAL / task} or {CARRIED / task}")


def text_lines(path: str | Path, n: int | None = None, offset: int = 0) -> list[str]:
    """Lines ``offset`` .. ``offset + n`` of a text file, stripped as neuronhead reads tweets; empty
    lines are kept, so a line's position is its row number."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [t.strip() for t in lines[offset : None if n is None else offset + n]]


def nonempty_texts(path: str | Path, n: int, cycle: bool = False) -> list[str]:
    """The first ``n`` non-empty texts of a file; ``cycle`` repeats the file to reach ``n``, else a file
    that holds fewer is an error (a benchmark must not silently measure less than it says)."""
    texts = [t for t in text_lines(path) if t]
    if cycle:
        return [texts[i % len(texts)] for i in range(n)]
    if len(texts) < n:
        raise ValueError(f"{path} holds only {len(texts)} non-empty texts, asked for {n}")
    return texts[:n]


def tweeteval_labels(folder: Path, split: str = "train", n: int | None = None) -> list[int]:
    """The class ids of a TweetEval split, in file order."""
    return [int(y) for y in (folder / f"{split}_labels.txt").read_text(encoding="utf-8").split()[:n]]


def tweeteval_label_names(folder: Path) -> dict[int, str]:
    """``{class id: name}`` from a TweetEval task's mapping.txt (``id<TAB>name`` lines)."""
    lines = (folder / "mapping.txt").read_text(encoding="utf-8").splitlines()
    return {int(i): name for i, name in (line.split("\t") for line in lines if line.strip())}


def comma_list(text: str, cast: Callable[[str], T] = str) -> list[T]:
    """``"a,b,,c"`` → ``[cast("a"), cast("b"), cast("c")]``: the form every list flag of the benches takes."""
    return [cast(v.strip()) for v in text.split(",") if v.strip()]


def salient_neurons(head_folder: Path) -> dict[int, set[int]]:
    """``{layer: neurons}`` a fitted head reads, from its ``ranking.csv``."""
    kept: dict[int, set[int]] = {}
    with open(head_folder / "ranking.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["salient"] == "1":
                kept.setdefault(int(r["layer"]), set()).add(int(r["neuron"]))
    return kept


def shard_stats(folder: Path) -> list[dict[str, Any]]:
    """What each shard's worker recorded in a pipeline's output (``shard_stats.json``): rows,
    seconds, device and dtype, seconds per step."""
    return list(json.loads((Path(folder) / "shard_stats.json").read_text(encoding="utf-8")).values())


def in_worker_rate(stats: list[dict[str, Any]]) -> float:
    """Rows per second inside the workers, start-up and scheduling left out."""
    return sum(s["rows"] for s in stats) / sum(s["seconds"] for s in stats)


# -- the machine -------------------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """When and on what a figure was measured: rates move with the machine, so every JSON says which.

    Versions come from the installed metadata (no import of Ray); on a GPU, its name and memory and
    whether float32 matmuls may use TF32 (which would loosen float32 comparisons).
    """
    import torch

    env: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "ray": _version("ray"),
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        env.update(
            gpu=torch.cuda.get_device_name(0),
            gpu_count=torch.cuda.device_count(),
            gpu_total_mb=round(torch.cuda.get_device_properties(0).total_memory / 2**20),
            tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
            float32_matmul_precision=torch.get_float32_matmul_precision(),
        )
    return env


# -- results -----------------------------------------------------------------------------------------


def write_json(path: str | Path, obj: Any, indent: int = 1) -> Path:
    """Write ``obj`` as JSON (parent folders made; paths and other objects as strings)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=indent, default=str) + "\n", encoding="utf-8")
    return path


def read_json(path: str | Path | None, default: Any = None) -> Any:
    """A JSON file a bench wrote before (to resume from it), or ``default`` when there is none."""
    return json.loads(Path(path).read_text(encoding="utf-8")) if path and Path(path).exists() else default


def print_result(obj: Any) -> None:
    print(RESULT + json.dumps(obj, default=str), flush=True)


def parse_result(stdout: str) -> Any:
    """The last ``RESULT`` line of a script's output, or ``None``."""
    lines = [x for x in stdout.splitlines() if x.startswith(RESULT)]
    return json.loads(lines[-1][len(RESULT) :]) if lines else None


# -- random-weight models ----------------------------------------------------------------------------


def minilm_files() -> Path:
    """A folder with MiniLM-L6's config.json and tokenizer: the carried copy, else the bundled model."""
    if (CARRIED / "minilm").exists():
        return CARRIED / "minilm"
    from neuronhead.models.loading import bundled_model_path

    return bundled_model_path()


def save_random_bert(folder: Path, **config: Any) -> Path:
    """MiniLM-L6's config with ``config``'s changes, random weights (seed 0), and its WordPiece
    tokenizer, saved to ``folder``: a real model's shapes and tokens without its weights."""
    import torch
    import transformers as T

    source = minilm_files()
    bert = T.BertConfig.from_pretrained(source)
    bert.update(config)
    torch.manual_seed(0)
    T.BertModel(bert).save_pretrained(folder, safe_serialization=True)
    T.AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


def train_bpe_tokenizer(texts: Sequence[str], folder: Path, vocab_size: int = 8000) -> Path:
    """A GPT-2 style byte-level BPE trained on ``texts``, saved to ``folder`` (no GPT-2 vocabulary can
    be downloaded here)."""
    import transformers as T
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=2, special_tokens=[EOS], show_progress=False
    )
    folder.mkdir(parents=True, exist_ok=True)
    bpe.save(str(folder / "tokenizer.json"))
    tok = T.GPT2TokenizerFast(
        tokenizer_file=str(folder / "tokenizer.json"), eos_token=EOS, bos_token=EOS, unk_token=EOS
    )
    tok.save_pretrained(folder)
    return folder


# -- the float64 reference of captured features ------------------------------------------------------


def _activation(name: str, x: Any) -> Any:
    import torch

    x = x.double()
    if name == "gelu":
        return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))
    if name == "gelu_new":
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))
    if name == "relu":
        return x.clamp_min(0)
    raise ValueError(f"no reference for the activation {name}")


def control_ids(tokenizer: Any) -> set[int]:
    """Ids of the tokens that steer the model rather than stand for text ([CLS], <s>, </s>, pads...)."""
    names = ("bos_token", "eos_token", "cls_token", "sep_token", "pad_token", "mask_token")
    return {tokenizer.convert_tokens_to_ids(getattr(tokenizer, n)) for n in names if getattr(tokenizer, n)}


def reference_features(
    loaded: Any, texts: Sequence[str], max_length: int, pool_special_tokens: bool = False
) -> dict[int, np.ndarray]:
    """``{layer: (n, 2, width) float64}`` recomputed text by text from the module weights.

    Independent of neuronhead's hooks and pooling: each text runs alone (no padding), only the input
    of each block's FFN up-projection is captured, the up-projection and activation are applied by
    hand, and mean and max are taken in float64. The same reference as tests/models/test_exactness.py.
    """
    import torch

    from neuronhead.models.hooked import blocks_of

    spec, model = loaded.spec, loaded.model
    ups = [block.get_submodule(spec.up_proj) for block in blocks_of(loaded)]
    act = spec.activation_name(loaded.config)
    control = control_ids(loaded.tokenizer)
    out: dict[int, list[np.ndarray]] = {i: [] for i in range(loaded.n_loaded)}
    for text in texts:
        ids = loaded.tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
        keep = np.array([pool_special_tokens or i not in control for i in ids])
        inputs: dict[int, Any] = {}
        handles = [
            up.register_forward_pre_hook(
                lambda _m, args, i=i, store=inputs: store.__setitem__(i, args[0][0].detach().double())
            )
            for i, up in enumerate(ups)
        ]
        with torch.no_grad():
            model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long))
        for h in handles:
            h.remove()
        for i, up in enumerate(ups):
            w, b = up.weight.detach().double(), up.bias.detach().double()
            pre = inputs[i] @ w + b if spec.conv1d else inputs[i] @ w.T + b  # Conv1D stores (in, out)
            a = _activation(act, pre).numpy()[keep]
            out[i].append(np.stack([a.mean(axis=0), a.max(axis=0)]))
    return {i: np.stack(v) for i, v in out.items()}
