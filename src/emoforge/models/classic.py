"""Classic SER: functionals, per-speaker normalisation, a linear classifier (scikit-learn)."""
from __future__ import annotations

from sklearn.linear_model import LogisticRegression


def linear(n_classes: int, n_features: int, C: float = 1.0) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
