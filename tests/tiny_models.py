"""Tiny random-weight models of each supported kind, with the tokenizer kind the real model ships.

No hub access exists in the tests, so each tokenizer is built here, but of the real kind: RoBERTa and
GPT-2 get a byte-level BPE (vocab.json + merges.txt, trained on a few dozen sentences) with their real
special tokens; BERT and DistilBERT get the bert-base-uncased WordPiece vocab of the bundled MiniLM.
Every model keeps its real activation (GELU; GPT-2's tanh-approximated ``gelu_new``). A tokenizer of
another kind would leave that kind's special tokens and byte-level merges untested.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import transformers as T
from tokenizers import ByteLevelBPETokenizer

from neuronhead.models.loading import bundled_model_path

SENTENCES = [
    "I love this phone, the camera is amazing!",
    "worst service ever",
    "The meeting is moved to 3pm on Thursday.",
    "ok",
    "Not bad at all, honestly better than I expected from a sequel.",
    "@user did you see the game last night?? #NBA http://t.co/x",
]

UNICODE_TEXT = "Café déjà vu 😂🔥 — naïve jalapeño über straße"  # accents, emoji, a dash, non-Latin case

TRAINING_TEXTS = SENTENCES + [
    UNICODE_TEXT,
    "Just landed in Zürich, the weather is lovely ☀️",
    "can't believe the bus was late AGAIN 😡",
    "New blog post: ten tips for better sleep http://t.co/abc",
    "happy birthday to my best friend 🎉🎂",
    "The concert last night was incredible, best crowd ever",
    "why is my wifi so slow today",
    "Voting opens tomorrow at 8am, don't forget your ID",
    "this coffee shop makes the best croissants in town ☕",
    "@support my order #12345 still hasn't arrived",
    "Loved the new episode, that ending though!!",
    "rain rain go away, come again another day",
    "Our team won the championship! So proud 🏆",
    "Señor García habló del año nuevo en la radio",
    "I'm not sure how I feel about the new update",
    "the traffic on the highway is terrible this morning",
    "Thank you all for the kind messages ❤️",
    "Does anyone know a good dentist near downtown?",
    "That movie was a total waste of two hours",
    "Breaking: markets fall after the announcement",
    "reading a great book about the history of maps",
    "Mon café préféré ferme à midi le dimanche",
    "Who else is watching the match tonight? #football",
    "my cat just knocked my phone off the table 🙄",
    "Fresh snow on the mountains, time to go skiing ⛷️",
    "the update fixed the battery drain, finally",
]

ARCHS = ["bert", "roberta", "distilbert", "gpt2"]

HIDDEN, LAYERS, HEADS, FFN = 32, 4, 2, 48  # tiny, but every block of the real architecture
MAX_POSITIONS = 128  # tokens a text may have (RoBERTa adds pad_id + 1 positions, as roberta-base's 514)
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4; roberta-base has 0..3 the same
GPT2_EOS = "<|endoftext|>"


def control_ids(tokenizer: T.PreTrainedTokenizerBase) -> set[int]:
    """Ids of the tokens that steer the model rather than stand for text ([CLS], <s>, </s>, pads...).

    Tests decide which positions are special from these ids, not from the tokenizer's own mask.
    """
    names = ("bos_token", "eos_token", "cls_token", "sep_token", "pad_token", "mask_token")
    return {tokenizer.convert_tokens_to_ids(getattr(tokenizer, n)) for n in names if getattr(tokenizer, n)}


def train_byte_bpe(folder: Path, special_tokens: list[str], vocab_size: int = 1000) -> None:
    """Write vocab.json + merges.txt of a byte-level BPE, laid out as the hub's GPT-2 and RoBERTa folders."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        TRAINING_TEXTS * 5, vocab_size=vocab_size, min_frequency=1, special_tokens=special_tokens
    )
    folder.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(folder))


def roberta_tokenizer(folder: Path) -> T.PreTrainedTokenizerBase:
    """RoBERTa's tokenizer: byte-level BPE whose template wraps a text in ``<s> … </s>``."""
    train_byte_bpe(folder, ROBERTA_SPECIALS)
    return T.RobertaTokenizerFast.from_pretrained(folder, model_max_length=MAX_POSITIONS)


def gpt2_tokenizer(folder: Path) -> T.PreTrainedTokenizerBase:
    """GPT-2's tokenizer: byte-level BPE, ``<|endoftext|>`` as bos/eos/unk, no pad, adds nothing to a text."""
    train_byte_bpe(folder, [GPT2_EOS])
    return T.GPT2TokenizerFast.from_pretrained(
        folder, bos_token=GPT2_EOS, eos_token=GPT2_EOS, unk_token=GPT2_EOS, model_max_length=MAX_POSITIONS
    )


def wordpiece_tokenizer(cls: type[T.PreTrainedTokenizerBase]) -> T.PreTrainedTokenizerBase:
    """The bert-base-uncased WordPiece vocab (bundled with MiniLM), loaded as ``cls``."""
    return cls.from_pretrained(bundled_model_path())


def _bert(folder: Path) -> tuple[torch.nn.Module, T.PreTrainedTokenizerBase]:
    tok = wordpiece_tokenizer(T.BertTokenizerFast)
    config = T.BertConfig(
        vocab_size=len(tok),
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=FFN,
        pad_token_id=tok.pad_token_id,
    )
    return T.BertModel(config), tok


def _roberta(folder: Path) -> tuple[torch.nn.Module, T.PreTrainedTokenizerBase]:
    tok = roberta_tokenizer(folder)
    config = T.RobertaConfig(
        vocab_size=len(tok),
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=FFN,
        bos_token_id=tok.bos_token_id,
        pad_token_id=tok.pad_token_id,  # positions count from pad_token_id + 1, as in roberta-base
        eos_token_id=tok.eos_token_id,
        max_position_embeddings=MAX_POSITIONS + tok.pad_token_id + 1,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
    )
    return T.RobertaModel(config), tok


def _distilbert(folder: Path) -> tuple[torch.nn.Module, T.PreTrainedTokenizerBase]:
    tok = wordpiece_tokenizer(T.DistilBertTokenizerFast)
    config = T.DistilBertConfig(  # activation left at its default: GELU
        vocab_size=len(tok),
        dim=HIDDEN,
        n_layers=LAYERS,
        n_heads=HEADS,
        hidden_dim=FFN,
        pad_token_id=tok.pad_token_id,
    )
    return T.DistilBertModel(config), tok


def _gpt2(folder: Path) -> tuple[torch.nn.Module, T.PreTrainedTokenizerBase]:
    tok = gpt2_tokenizer(folder)
    config = T.GPT2Config(  # activation left at its default: gelu_new; FFN width 4 * n_embd
        vocab_size=len(tok),
        n_embd=HIDDEN,
        n_layer=LAYERS,
        n_head=HEADS,
        n_positions=MAX_POSITIONS,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    return T.GPT2Model(config), tok


BUILDERS: dict[str, Callable[[Path], tuple[torch.nn.Module, T.PreTrainedTokenizerBase]]] = {
    "bert": _bert,
    "roberta": _roberta,
    "distilbert": _distilbert,
    "gpt2": _gpt2,
}


def build_tiny(arch: str, folder: Path) -> Path:
    """Save a randomly initialised 4-layer model of ``arch`` with its tokenizer to ``folder``.

    The folder holds what a hub snapshot holds (config.json, model.safetensors, tokenizer files), so
    ``neuronhead.models.load_model(folder)`` loads it like a downloaded model.
    """
    if arch not in BUILDERS:
        raise ValueError(f"no tiny model of kind {arch!r}; kinds: {sorted(BUILDERS)}")
    torch.manual_seed(0)
    model, tok = BUILDERS[arch](folder)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder
