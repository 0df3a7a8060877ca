"""Trained heads applied to texts in this process: ``predict``, ``predict_proba``, ``predict_values``.

It is the scoring pipeline's own worker (``ShardScorer``) fed from a list instead of a file, so it
applies everything the heads recorded — the normalisation of their training texts, the max length,
the special-token pooling rule, and the depth where the model stops — and its outputs are the ones
``neuronhead score`` writes for the same texts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuronhead.heads.explain import attribute, check_top, explanation_record
from neuronhead.models.loading import load_tokenizer
from neuronhead.models.tokens import MAX_LENGTH, PortableTokenizer
from neuronhead.models.trace import pool_tokens, token_activations
from neuronhead.pipelines.headset import HeadSet
from neuronhead.pipelines.options import Capture, Compute
from neuronhead.pipelines.scoring_worker import ScorerSettings, ShardScorer
from neuronhead.pipelines.shards import row_errors, tokenize_rows
from neuronhead.tweets.normalize import tweeteval_normalize


@dataclass(frozen=True)
class Scored:
    """Texts after the heads: ``outputs[head]`` holds the rows that ran (positions ``ok``), and
    ``errors``/``truncated`` every row."""

    outputs: dict[str, np.ndarray]
    ok: list[int]
    errors: list[str | None]
    truncated: list[bool]


class PredictError(ValueError):
    """A text the heads cannot score, with its position and the reason ``score`` writes for it."""


class Predictor:
    """One or more heads that share a model, ready for texts. With one head, ``predict`` and friends
    return that head's arrays; with several, a dict of them by head name. No texts give the same
    with no rows: ``predict([])`` has shape ``(0,)``, ``predict_proba([])`` ``(0, classes)``."""

    def __init__(self, heads: HeadSet, compute: Compute = Compute()) -> None:
        self.heads = heads
        extraction = heads.extraction
        self.capture = Capture(
            max_length=int(extraction.max_length or MAX_LENGTH),
            pool_special_tokens=extraction.pool_special_tokens,
        )
        settings = ScorerSettings(
            str(heads.model_path), heads.blobs, out="", capture=self.capture, compute=compute
        )
        self.scorer = ShardScorer(settings)
        self.tokenizer = load_tokenizer(heads.model_path, trust_remote_code=compute.trust_remote_code)
        self.tokenize = PortableTokenizer.of(  # as the scoring pipeline's workers tokenize
            self.tokenizer, self.capture.max_length, str(heads.model_path), compute.trust_remote_code
        )
        self.normalize = extraction.normalize == "tweeteval"

    @classmethod
    def load(
        cls, heads: Sequence[str], model: str | None = None, force: bool = False, **compute: Any
    ) -> Predictor:
        """Heads by ``PATH`` or ``NAME=PATH``; ``compute`` takes ``Compute``'s fields."""
        known = {f.name for f in dataclasses.fields(Compute)}
        unknown = sorted(set(compute) - known)
        if unknown:
            raise TypeError(f"unknown option {unknown[0]!r}; options: {', '.join(sorted(known))}")
        return cls(HeadSet.load(heads, model=model, force=force), Compute(**compute))

    @property
    def names(self) -> list[str]:
        return self.heads.names

    def outputs(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """``{head: probabilities (n, classes) or values (n,)}`` for ``texts``, in order."""
        scored = self.scored(texts)
        bad = next(((i, e) for i, e in enumerate(scored.errors) if e), None)
        if bad is not None:
            raise PredictError(f"text {bad[0]}: {bad[1]}")
        return scored.outputs

    def scored(self, texts: Sequence[str]) -> Scored:
        """Every head on ``texts`` in one pass, a text that cannot be scored kept with its reason
        (as ``score`` writes it) instead of raised: what a server answering many texts needs."""
        shard = self._tokenized(_text_list(texts))
        computed = self.scorer.compute(shard)
        # no row ran: the heads on no rows, so outputs keep their shape and type (0 rows of them)
        features = computed.outputs if computed.ok else self._no_rows()
        outputs = {name: self.scorer.head_outputs(name, features) for name in self.names}
        return Scored(outputs, computed.ok, computed.errors, [bool(t) for t in shard["truncated"]])

    def _no_rows(self) -> dict[int, np.ndarray]:
        """The union features of no texts, ``{layer: (0, 2, neurons)}``."""
        return {layer: np.zeros((0, 2, len(idx)), np.float32) for layer, idx in self.scorer.neurons.items()}

    def records(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Per text: ``{"truncated", "error", "heads": {name: {"label", "probabilities"} or
        {"value"}}}`` (``heads`` empty when ``error``), JSON-ready."""
        scored = self.scored(texts)
        pairs = zip(scored.truncated, scored.errors, strict=True)
        out: list[dict[str, Any]] = [{"truncated": t, "error": e, "heads": {}} for t, e in pairs]
        for name, values in scored.outputs.items():
            regression = self.scorer.heads[name].task == "regression"
            labels = None if regression else self.labels(name)
            for j, i in enumerate(scored.ok):
                if regression:
                    out[i]["heads"][name] = {"value": float(values[j])}
                else:
                    p = values[j]
                    probs = {label: float(v) for label, v in zip(labels, p, strict=True)}
                    out[i]["heads"][name] = {"label": labels[int(p.argmax())], "probabilities": probs}
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray | dict[str, np.ndarray]:
        """Class probabilities, columns in the order of ``labels``."""
        return self._each(self.outputs(texts), self._classifier)

    def predict(self, texts: Sequence[str]) -> np.ndarray | dict[str, np.ndarray]:
        """Label names (classification) or values (regression)."""
        return self._each(self.outputs(texts), self._labels)

    def predict_values(self, texts: Sequence[str]) -> np.ndarray | dict[str, np.ndarray]:
        """A regression head's values."""
        return self._each(self.outputs(texts), self._regressor)

    def explain(self, text: str, top: int = 10) -> dict[str, Any]:
        """Why the heads said what they did for ``text``: the ``top`` salient neurons that moved each
        head's predicted-class logit (a regression head's value) most, with their pooled values and
        the tokens of their highest activations, and the other neurons' shares together (``other``):
        listed + other + residual + baseline = output. One head: its explanation; several: a dict by
        name.
        How the shares are computed, and when they are exact: :mod:`neuronhead.heads.explain`."""
        found = self.explanations(text, top)
        return found[self.names[0]] if len(found) == 1 else found

    def explanations(self, text: str, top: int = 10) -> dict[str, dict[str, Any]]:
        """:meth:`explain` for every head, by name (JSON-ready)."""
        check_top(top)  # before the forward pass
        shard = self._tokenized([text])  # refuses a non-string as predict does
        error = row_errors(shard, self.capture.pool_special_tokens)[0]
        if error:
            raise PredictError(f"text 0: {error}")
        ids = shard["input_ids"][0]
        pooled = [self.capture.pool_special_tokens or not s for s in shard["special"][0]]
        acts = token_activations(self.scorer.hooked.loaded, ids, self.scorer.neurons)
        union = {layer: pool_tokens(a, pooled).numpy() for layer, a in acts.items()}
        words = [
            self.tokenizer.convert_tokens_to_string([t]).strip()
            for t in self.tokenizer.convert_ids_to_tokens(ids)
        ]
        found = {}
        for name, head in self.scorer.heads.items():
            where = self.scorer.positions[name]
            values = {layer: union[layer][:, pos] for layer, pos in where.items()}
            tokens = {layer: acts[layer][:, pos].numpy() for layer, pos in where.items()}
            found[name] = explanation_record(
                head, attribute(head, values), values, tokens, (words, pooled), top
            )
            found[name]["truncated"] = bool(shard["truncated"][0])
        return found

    @property
    def classes_(self) -> np.ndarray | dict[str, np.ndarray]:
        """``labels()`` as scikit-learn names them: an array in ``predict_proba``'s column order, of
        ``predict``'s type (several heads: a dict by name; a regression head has none)."""
        return self._each(dict.fromkeys(self.names), self._classes)

    def labels(self, name: str | None = None) -> list[str]:
        head = self.scorer.heads[name or self.names[0]]
        return head.label_names_ or [str(k) for k in range(head.n_outputs_)]

    def _tokenized(self, texts: list[str]) -> dict[str, Any]:
        """A packed shard as the scoring workers receive it: ids, special-token masks, truncation."""
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise PredictError(f"text {bad}: not a string but {type(texts[bad]).__name__}")
        if self.normalize:
            texts = [tweeteval_normalize(t) for t in texts]
        n = len(texts)
        shard: dict[str, Any] = {"row": list(range(n)), "text": texts}
        shard.update(tokenize_rows(self.tokenize, texts))
        return shard

    def _each(self, outputs: dict[str, np.ndarray], convert) -> np.ndarray | dict[str, np.ndarray]:
        converted = {name: convert(name, out) for name, out in outputs.items()}
        return converted[self.names[0]] if len(converted) == 1 else converted

    def _classifier(self, name: str, out: np.ndarray) -> np.ndarray:
        if self.scorer.heads[name].task == "regression":
            raise TypeError(f"{name!r} is a regression head: use predict_values")
        return out

    def _regressor(self, name: str, out: np.ndarray) -> np.ndarray:
        if self.scorer.heads[name].task != "regression":
            raise TypeError(f"{name!r} is a classification head: use predict or predict_proba")
        return out

    def _classes(self, name: str, _: None) -> np.ndarray:
        if self.scorer.heads[name].task == "regression":
            raise AttributeError(f"{name!r} is a regression head: it has no classes_")
        return np.asarray(self.labels(name), dtype=object)

    def _labels(self, name: str, out: np.ndarray) -> np.ndarray:
        if self.scorer.heads[name].task == "regression":
            return out
        return np.asarray(self.labels(name), dtype=object)[out.argmax(1)]


def _text_list(texts: Iterable[str]) -> list[str]:
    """``texts`` as a list, or a ``TypeError`` that says what was given instead of a list of strings
    (a string is iterable too, but as characters it would score each letter)."""
    if isinstance(texts, str) or not isinstance(texts, Iterable):
        what = "one string (give [text])" if isinstance(texts, str) else type(texts).__name__
        raise TypeError(f"texts must be a list of strings, not {'None' if texts is None else what}")
    return list(texts)
