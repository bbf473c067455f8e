"""Classification metrics: UA (balanced accuracy), WA (accuracy), macro-F1, top-k, confusion."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score


def classification(y_true: np.ndarray, scores: np.ndarray, labels: list[str], prefix: str = "test",
                   scored: list[str] | None = None) -> dict:
    """scores: (n, classes) logits or probabilities; y_true: class indices. `scored`: the
    classes a prediction may take (cross-corpus, those the test corpus has); the others'
    columns are left out before the top-1 and top-3, as R4 scored RAVDESS."""
    y_true = np.asarray(y_true)
    if scored is not None:
        scores = np.where(np.isin(labels, scored)[None, :], scores, -np.inf)
    pred = scores.argmax(1)
    k = min(3, scores.shape[1])
    topk = np.argsort(-scores, axis=1)[:, :k]
    present = np.arange(len(labels))
    return {
        f"{prefix}/ua": float(balanced_accuracy_score(y_true, pred)),
        f"{prefix}/wa": float((pred == y_true).mean()),
        f"{prefix}/f1": float(f1_score(y_true, pred, average="macro", labels=np.unique(y_true), zero_division=0)),
        f"{prefix}/top3": float((topk == y_true[:, None]).any(1).mean()),
        f"{prefix}/n": int(len(y_true)),
        f"{prefix}/confusion": confusion_matrix(y_true, pred, labels=present).tolist(),
    }


def mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
