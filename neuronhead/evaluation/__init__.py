"""What judges a model: metrics (TweetEval's official ones), paired bootstrap intervals, and
topic-held-out folds for measuring it under shift. Knows nothing of the heads."""
