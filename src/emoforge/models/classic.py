"""Classic SER: functionals, per-speaker normalisation, a linear classifier (scikit-learn)."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression


def linear(n_classes: int, n_features: int, C: float = 1.0) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=5000, class_weight="balanced")


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits.reshape(len(logits), -1)
    if logits.shape[1] == 1:  # scikit-learn's binary case keeps one column: the second class's
        logits = np.concatenate([np.zeros_like(logits), logits], 1)
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def fit_temperature(decisions: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature that gives held-out decision values their lowest log-loss."""
    grid = np.geomspace(0.01, 100, 81)
    rows = np.arange(len(y))
    losses = [-np.log(softmax(decisions / t)[rows, y] + 1e-12).mean() for t in grid]
    return float(grid[int(np.argmin(losses))])


class LinearSVM:
    """A linear SVM (one-vs-rest, squared hinge, balanced class weights). Its decision values
    become probabilities through one softmax temperature, fitted on out-of-fold decisions of
    its own training rows; stored, as the logistic regression is, as softmax(x @ coef.T + b)."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def _svm(self):
        from sklearn.svm import LinearSVC
        return LinearSVC(C=self.C, class_weight="balanced", max_iter=20000)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "LinearSVM":
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        folds = StratifiedKFold(3, shuffle=True, random_state=0)
        held_out = cross_val_predict(self._svm(), x, y, cv=folds, method="decision_function")
        temperature = fit_temperature(held_out, y)
        svm = self._svm().fit(x, y)
        self.coef_, self.intercept_ = svm.coef_ / temperature, svm.intercept_ / temperature
        self.classes_, self.temperature = svm.classes_, temperature
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return softmax(x @ self.coef_.T + self.intercept_)


def linear_svm(n_classes: int, n_features: int, C: float = 1.0) -> LinearSVM:
    return LinearSVM(C)
