"""Fit a scikit-learn SER variant on one fold: per-speaker z-scores of the features, the
regularisation strength picked on the validation speakers, then one test evaluation."""
from __future__ import annotations

import time

import numpy as np

from .. import models, predict, tracking
from ..evaluate.metrics import classification
from .common import begin, write_json
from .inputs import prepare_fold
from .ser import Paths, confusion_figure, save_predictions


C_GRID = [0.01, 0.03, 0.1, 0.3, 1.0]  # for the 88 eGeMAPS values; a variant's options may set its own


def per_speaker_z(x: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Each speaker's features minus that speaker's mean, over that speaker's std: uses no
    labels, so it is allowed on test speakers too (the usual eGeMAPS protocol)."""
    out = np.empty_like(x)
    for s in np.unique(speakers):
        rows = speakers == s
        out[rows] = (x[rows] - x[rows].mean(0)) / (x[rows].std(0) + 1e-6)
    return out


def fit(cfg: dict, paths: Paths, corpus: str, variant: str, fold: int, protocol: str = "speaker") -> dict:
    t0 = time.time()
    seed, _, _ = begin(cfg, offset=fold)
    spec = models.get(variant, "ser")
    data = prepare_fold(spec.feature, paths.features, cfg, protocol, fold, seed)
    manifest, labels_text, y, idx = data.inputs.manifest, data.labels, data.y, data.idx
    if not len(idx["val"]):
        raise ValueError(f"protocol {protocol!r} has no validation rows, which {variant} needs to pick "
                         "its regularisation")
    x = per_speaker_z(np.nan_to_num(data.inputs.data), manifest["speaker"].to_numpy())
    run_cfg = {k: v for k, v in cfg.items() if k != "device"} | {
        "corpus": corpus, "variant": variant, "fold": fold, "protocol": protocol}
    grid = spec.settings(cfg).get("C_grid", C_GRID)
    with tracking.run("ser", f"{corpus}/{variant}/{protocol}/fold{fold}", run_cfg,
                      tags={"task": "ser", "corpus": corpus, "variant": variant, "fold": str(fold),
                            "protocol": protocol, "device": "cpu"}, group=f"{corpus}/{variant}/{protocol}") as mlrun:
        best = None
        for step, C in enumerate(grid):
            clf = spec.build(n_classes=len(labels_text), n_features=x.shape[1], C=C).fit(x[idx["train"]], y[idx["train"]])
            val = classification(y[idx["val"]], clf.predict_proba(x[idx["val"]]), labels_text, "val")
            mlrun.metrics({"C": C, "val/ua": val["val/ua"]}, step=step)
            if best is None or val["val/ua"] > best[0]:
                best = (val["val/ua"], C, clf)
        # the chosen C is refitted on train + validation speakers, as a last step before the test
        trainval = np.concatenate([idx["train"], idx["val"]])
        clf = spec.build(n_classes=len(labels_text), n_features=x.shape[1], C=best[1]).fit(x[trainval], y[trainval])
        scores = clf.predict_proba(x[idx["test"]])
        result = classification(y[idx["test"]], scores, labels_text, "test", data.scored)
        result.update({"labels": labels_text, "scored_labels": data.scored, "val/ua": best[0],
                       "C": best[1], "epochs_run": 1, "protocol": protocol,
                       "test_speakers": data.test_groups(),
                       "wall_s": round(time.time() - t0, 2), "device": "cpu", "mlflow_run_id": mlrun.run_id})
        mlrun.metrics({k: v for k, v in result.items() if k.startswith("test/")})
        inputs_state = {"kind": "vector", "name": spec.feature, "norm": "speaker"}
        predict.save(paths.out / "model.pt", variant, labels_text, run_cfg, inputs_state, linear=clf)
        result["mlflow_model_uri"] = mlrun.model(paths.out / "model.pt")
        # validation scores from the model fitted on the training speakers only
        save_predictions(paths.out / "predictions.npz", manifest, y, idx, scores, best[2].predict_proba(x[idx["val"]]))
        write_json(paths.out / "metrics.json", result)
        mlrun.artifact(paths.out / "metrics.json")
        mlrun.figure(confusion_figure(result["test/confusion"], labels_text, f"{corpus} {variant} fold {fold}"),
                     "confusion.png")
    return result
