"""Topic-held-out folds: clusters of similar texts are held out whole."""

from __future__ import annotations

import numpy as np
import pytest

from neuronhead.evaluation.topics import TopicOptions, deal_clusters, topic_folds


def _topics(rng: np.random.Generator, n_topics: int = 6, per: int = 40, dim: int = 16) -> np.ndarray:
    centres = rng.normal(size=(n_topics, dim)) * 5
    return np.concatenate([c + rng.normal(size=(per, dim)) for c in centres])


def test_a_cluster_is_never_on_both_sides_of_a_split():
    emb = _topics(np.random.default_rng(0), n_topics=9, per=30)
    clusters, folds = topic_folds(emb, TopicOptions(clusters=9, folds=3))
    for f in range(3):
        held = folds == f
        assert held.any() and (~held).any()
        assert not set(clusters[held]) & set(clusters[~held])
    for c in np.unique(clusters):
        assert len(np.unique(folds[clusters == c])) == 1


def test_the_clusters_are_the_topics_the_data_was_made_of():
    """Well-separated topics come back as clusters, one topic each (up to relabelling)."""
    emb = _topics(np.random.default_rng(1), n_topics=4, per=25)
    clusters, _ = topic_folds(emb, TopicOptions(clusters=4, folds=2))
    truth = np.repeat(np.arange(4), 25)
    for t in range(4):
        assert len(np.unique(clusters[truth == t])) == 1
    assert len(np.unique(clusters)) == 4


def test_clusters_are_dealt_so_folds_are_about_equal():
    clusters = np.repeat(np.arange(6), [50, 40, 30, 30, 20, 10])
    folds = deal_clusters(clusters, 3)
    sizes = np.bincount(folds)
    assert sizes.tolist() == [60, 60, 60]


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="at least folds"):
        TopicOptions(clusters=2, folds=3)
    with pytest.raises(ValueError, match="cannot form"):
        topic_folds(np.zeros((5, 4)), TopicOptions(clusters=12, folds=3))
