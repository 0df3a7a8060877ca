"""Topic-held-out folds: whole clusters of similar texts held out together.

Random folds put near-duplicates of a held-out text (the same hashtag, target or event) in training,
so they measure a model on the collection it was fitted on. Holding out whole topics instead
measures it on texts about things it has not seen, which is what next month's tweets are. The
topics are k-means clusters of the texts' sentence embeddings (unit-normalised, so the distance is
the cosine); each fold holds out whole clusters, and no cluster is ever on both sides of a split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TopicOptions:
    """``clusters`` topics, dealt into ``folds`` held-out groups; ``seed`` fixes k-means."""

    clusters: int = 12
    folds: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ValueError(f"folds must be at least 2, got {self.folds}")
        if self.clusters < self.folds:
            raise ValueError(f"clusters ({self.clusters}) must be at least folds ({self.folds})")


def topic_clusters(embeddings: np.ndarray, options: TopicOptions = TopicOptions()) -> np.ndarray:
    """The k-means cluster of each row of ``embeddings`` ``(rows, dim)`` (cosine geometry)."""
    try:  # scikit-learn's k-means++ and Lloyd rather than a hand-written one; a dev dependency so far
        from sklearn.cluster import KMeans
    except ImportError as exc:
        raise ImportError("topic folds need scikit-learn: pip install 'neuronhead[dev]'") from exc

    if len(embeddings) < options.clusters:
        raise ValueError(f"{len(embeddings)} rows cannot form {options.clusters} topics")
    x = np.asarray(embeddings, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    km = KMeans(n_clusters=options.clusters, n_init=4, random_state=options.seed)
    return km.fit_predict(x).astype(np.int64)


def deal_clusters(clusters: np.ndarray, n_folds: int) -> np.ndarray:
    """The fold of each row: clusters are dealt, largest first, to the fold with fewest rows so far,
    so folds are about equal in size while every cluster stays whole."""
    ids, sizes = np.unique(clusters, return_counts=True)
    if len(ids) < n_folds:
        raise ValueError(f"{len(ids)} clusters cannot fill {n_folds} folds")
    load = np.zeros(n_folds, dtype=np.int64)
    fold_of = {}
    for i in np.argsort(-sizes, kind="stable"):
        f = int(np.argmin(load))
        fold_of[int(ids[i])] = f
        load[f] += sizes[i]
    return np.array([fold_of[int(c)] for c in clusters], dtype=np.int64)


def topic_folds(
    embeddings: np.ndarray, options: TopicOptions = TopicOptions()
) -> tuple[np.ndarray, np.ndarray]:
    """``(cluster, fold)`` of each row: :func:`topic_clusters`, then :func:`deal_clusters`."""
    clusters = topic_clusters(embeddings, options)
    return clusters, deal_clusters(clusters, options.folds)
