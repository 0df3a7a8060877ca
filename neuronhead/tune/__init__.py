"""Ray Tune + Optuna search over cached features (issue: tuning)."""
