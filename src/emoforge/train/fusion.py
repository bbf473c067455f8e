"""Late fusion of SER variants on one fold: a weighted mean of the members' class probabilities,
the weights picked on the validation speakers' scores (never the test fold's)."""
from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np

from .. import models, tracking
from ..evaluate.metrics import classification
from .common import write_json
from .ser import Paths, confusion_figure


def probabilities(scores: np.ndarray) -> np.ndarray:
    """Members save logits (torch) or probabilities (scikit-learn); fusion mixes probabilities."""
    if (scores >= 0).all() and np.allclose(scores.sum(1), 1, atol=1e-3):
        return scores
    e = np.exp(scores - scores.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def weight_grid(n: int, steps: int = 10) -> list[tuple[float, ...]]:
    """Every weighting of n members in 1/steps increments that sums to one."""
    return [tuple(c / steps for c in combo) for combo in itertools.product(range(steps + 1), repeat=n)
            if sum(combo) == steps]


def load_member(folder: Path) -> dict:
    if not (folder / "predictions.npz").exists():
        raise FileNotFoundError(f"{folder}/predictions.npz: fusion needs this member's predictions (run it first)")
    pred = dict(np.load(folder / "predictions.npz"))
    if "val_scores" not in pred:
        raise ValueError(f"{folder}/predictions.npz has no validation scores (made by an older emoforge); "
                         "delete the folder and run the member again")
    metrics = json.loads((folder / "metrics.json").read_text())
    return {**pred, "labels": metrics["labels"], "wall_s": metrics["wall_s"],
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
    labels = next(iter(members.values()))["labels"]
    val = [probabilities(m["val_scores"]) for m in members.values()]
    test = [probabilities(m["scores"]) for m in members.values()]
    y_val, y_test = _aligned(members, "val_y"), _aligned(members, "y")
    run_cfg = {k: v for k, v in cfg.items() if k != "device"} | {
        "corpus": corpus, "variant": variant, "fold": fold, "protocol": protocol, "members": list(spec.members)}
    with tracking.run("ser", f"{corpus}/{variant}/{protocol}/fold{fold}", run_cfg,
                      tags={"task": "ser", "corpus": corpus, "variant": variant, "fold": str(fold),
                            "protocol": protocol, "device": "cpu"}, group=f"{corpus}/{variant}/{protocol}") as mlrun:
        best = None
        for step, w in enumerate(weight_grid(len(members))):
            ua = classification(y_val, sum(wi * p for wi, p in zip(w, val)), labels, "val")["val/ua"]
            mlrun.metrics({"val/ua": ua, **{f"weight/{m}": wi for m, wi in zip(members, w)}}, step=step)
            if best is None or ua > best[0] + 1e-9:
                best = (ua, w)
        weights = dict(zip(members, best[1]))
        scores = sum(wi * p for wi, p in zip(best[1], test))
        result = classification(y_test, scores, labels, "test")
        result.update({"labels": labels, "val/ua": best[0], "weights": weights, "epochs_run": 1, "protocol": protocol,
                       "test_speakers": list(_aligned(members, "test_speakers")),
                       # what the fused model costs: its members' training plus the fusion itself
                       "wall_s": round(sum(m["wall_s"] for m in members.values()) + time.time() - t0, 2),
                       "wall_s_own": round(time.time() - t0, 2),
                       "device": "cpu", "mlflow_run_id": mlrun.run_id})
        mlrun.metrics({k: v for k, v in result.items() if k.startswith("test/")})
        paths.out.mkdir(parents=True, exist_ok=True)
        np.savez(paths.out / "predictions.npz", item_id=_aligned(members, "item_id"), y=y_test, scores=scores,
                 val_item_id=_aligned(members, "val_item_id"), val_y=y_val,
                 val_scores=sum(wi * p for wi, p in zip(best[1], val)))
        write_json(paths.out / "metrics.json", result)
        mlrun.artifact(paths.out / "metrics.json")
        mlrun.figure(confusion_figure(result["test/confusion"], labels, f"{corpus} {variant} fold {fold}"),
                     "confusion.png")
    return result
