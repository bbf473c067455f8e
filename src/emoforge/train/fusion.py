"""Late fusion of SER variants on one fold, its weights learnt on the validation speakers' scores
(never the test fold's). Two ways, by the variant's `method` option:

- `ua_grid`: a weighted mean of the members' probabilities, the weights (steps of 0.1) those
  with the best validation UA. Few validation speakers make that choice noisy.
- `log_loss`: a weighted sum of the members' log-probabilities (a product of experts), the
  non-negative weights those with the lowest validation log-loss. The loss is smooth and reads
  every clip's probabilities, not only its top label; a weight is also a temperature, so
  members calibrated differently (a CNN's logits, an SVM's fitted softmax) are put on one scale.
"""
from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from .. import models, tracking
from ..evaluate.metrics import classification
from ..models.classic import softmax
from .common import write_json
from .ser import Paths, confusion_figure


def probabilities(scores: np.ndarray) -> np.ndarray:
    """Members save logits (torch) or probabilities (scikit-learn); fusion mixes probabilities."""
    if (scores >= 0).all() and np.allclose(scores.sum(1), 1, atol=1e-3):
        return scores
    return softmax(scores)


def weight_grid(n: int, steps: int = 10) -> list[tuple[float, ...]]:
    """Every weighting of n members in 1/steps increments that sums to one."""
    return [tuple(c / steps for c in combo) for combo in itertools.product(range(steps + 1), repeat=n)
            if sum(combo) == steps]


def ua_grid(val: list[np.ndarray], y_val: np.ndarray, labels: list[str],
            log) -> tuple[np.ndarray, float]:
    """The grid weighting of probabilities with the best validation UA (ties: the first)."""
    best = None
    for step, w in enumerate(weight_grid(len(val))):
        ua = classification(y_val, mix_probabilities(w, val), labels, "val")["val/ua"]
        log(step, w, ua)
        if best is None or ua > best[1] + 1e-9:
            best = (np.array(w), ua)
    return best


def log_loss_weights(val: list[np.ndarray], y_val: np.ndarray, labels: list[str],
                     log) -> tuple[np.ndarray, float]:
    """Non-negative weights of the members' log-probabilities with the lowest validation
    log-loss. Each member alone (weight 1, others 0) is a point of the search, so the fused
    validation log-loss is never above any member's."""
    logs = np.stack([log_probabilities(p) for p in val])  # (members, clips, classes)
    onehot = np.eye(logs.shape[2])[y_val]

    def loss_and_grad(w):
        p = softmax(np.tensordot(w, logs, 1))
        loss = -log_probabilities((p * onehot).sum(1)).mean()
        return loss, ((p - onehot)[None] * logs).sum(2).mean(1)

    alone = [loss_and_grad(np.eye(len(val))[i])[0] for i in range(len(val))]
    start = np.eye(len(val))[int(np.argmin(alone))]
    found = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B", bounds=[(0, None)] * len(val))
    w = found.x if found.fun <= min(alone) else start
    log(0, w, -float(loss_and_grad(w)[0]))
    return w, classification(y_val, mix_log_probabilities(w, val), labels, "val")["val/ua"]


def mix_probabilities(w, probs: list[np.ndarray]) -> np.ndarray:
    return sum(wi * p for wi, p in zip(w, probs))


def log_probabilities(p: np.ndarray) -> np.ndarray:
    """log p with a floor: a member sure of the wrong class costs much, never infinity."""
    return np.log(np.clip(p, 1e-12, None))


def mix_log_probabilities(w, probs: list[np.ndarray]) -> np.ndarray:
    return softmax(sum(wi * log_probabilities(p) for wi, p in zip(w, probs)))


# a fusion method: (how its weights are found, how they combine the members' probabilities)
METRIC = {"ua_grid": "val/ua", "log_loss": "val/neg_log_loss"}  # what each logs per step
METHODS = {"ua_grid": (ua_grid, mix_probabilities), "log_loss": (log_loss_weights, mix_log_probabilities)}


def load_member(folder: Path) -> dict:
    if not (folder / "predictions.npz").exists():
        raise FileNotFoundError(f"{folder}/predictions.npz: fusion needs this member's predictions (run it first)")
    pred = dict(np.load(folder / "predictions.npz"))
    if "val_scores" not in pred:
        raise ValueError(f"{folder}/predictions.npz has no validation scores (made by an older emoforge); "
                         "delete the folder and run the member again")
    if not len(pred["val_item_id"]):
        raise ValueError(f"{folder}: this member has no validation scores (it trained on its "
                         "validation speakers, or its protocol holds none out), so they cannot "
                         "choose fusion weights; fuse variants that keep validation speakers out")
    metrics = json.loads((folder / "metrics.json").read_text())
    return {**pred, "labels": metrics["labels"], "wall_s": metrics["wall_s"],
            "scored_labels": metrics.get("scored_labels", metrics["labels"]),
            "test_speakers": metrics.get("test_speakers", [])}


def _aligned(members: dict[str, dict], key: str) -> np.ndarray:
    first, *rest = members.values()
    for name, m in members.items():
        if not np.array_equal(m[key], first[key]) or m["labels"] != first["labels"]:
            raise ValueError(f"fusion member {name!r} was evaluated on other items or labels ({key}); "
                             "all members must share the corpus, protocol, fold and drop_emotions")
    return first[key]


def fit(cfg: dict, paths: Paths, corpus: str, variant: str, fold: int, protocol: str = "speaker") -> dict:
    t0 = time.time()
    spec = models.get(variant, "ser")
    members = {m: load_member(paths.out.parents[2] / m / paths.out.parent.name / paths.out.name)
               for m in spec.members}
    _aligned(members, "item_id"), _aligned(members, "val_item_id")
    labels, scored = (next(iter(members.values()))[key] for key in ("labels", "scored_labels"))
    method = spec.settings(cfg).get("method", "ua_grid")
    if method not in METHODS:
        raise KeyError(f"unknown fusion method {method!r}; known: {sorted(METHODS)}")
    val = [probabilities(m["val_scores"]) for m in members.values()]
    test = [probabilities(m["scores"]) for m in members.values()]
    y_val, y_test = _aligned(members, "val_y"), _aligned(members, "y")
    run_cfg = {k: v for k, v in cfg.items() if k != "device"} | {
        "corpus": corpus, "variant": variant, "fold": fold, "protocol": protocol,
        "members": list(spec.members), "method": method}
    with tracking.run("ser", f"{corpus}/{variant}/{protocol}/fold{fold}", run_cfg,
                      tags={"task": "ser", "corpus": corpus, "variant": variant, "fold": str(fold),
                            "protocol": protocol, "device": "cpu"}, group=f"{corpus}/{variant}/{protocol}") as mlrun:
        find, mix = METHODS[method]

        def log(step, w, score):
            weights = {f"weight/{m}": float(wi) for m, wi in zip(members, w)}
            mlrun.metrics({METRIC[method]: score, **weights}, step=step)

        w, val_ua = find(val, y_val, labels, log)
        weights = dict(zip(members, w.round(4).tolist()))
        scores = mix(w, test)
        result = classification(y_test, scores, labels, "test", scored)
        result.update({"labels": labels, "scored_labels": scored, "val/ua": val_ua,
                       "weights": weights, "method": method,
                       "epochs_run": 1, "protocol": protocol,
                       "test_speakers": list(_aligned(members, "test_speakers")),
                       # what the fused model costs: its members' training plus the fusion itself
                       "wall_s": round(sum(m["wall_s"] for m in members.values()) + time.time() - t0, 2),
                       "wall_s_own": round(time.time() - t0, 2),
                       "device": "cpu", "mlflow_run_id": mlrun.run_id})
        mlrun.metrics({k: v for k, v in result.items() if k.startswith("test/")})
        paths.out.mkdir(parents=True, exist_ok=True)
        np.savez(paths.out / "predictions.npz", item_id=_aligned(members, "item_id"), y=y_test, scores=scores,
                 val_item_id=_aligned(members, "val_item_id"), val_y=y_val, val_scores=mix(w, val))
        write_json(paths.out / "metrics.json", result)
        mlrun.artifact(paths.out / "metrics.json")
        mlrun.figure(confusion_figure(result["test/confusion"], labels, f"{corpus} {variant} fold {fold}"),
                     "confusion.png")
    return result
