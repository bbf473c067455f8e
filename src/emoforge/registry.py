"""The MLflow Model Registry's champions: per corpus and task, one trained model registered as
emoforge-<task>-<corpus> with the alias `champion` (what `emoforge predict` loads by default).

Chosen without looking at any test data:
- ser: among speaker-independent runs, the variant with the best mean validation UA over its
  folds, then its fold with the best validation UA;
- translate: the WORLD converter `emoforge translate` prefers (world_mlp, else the prosody
  baseline), whatever its test numbers;
- faces: the generator with the best conditional accuracy (the face-emotion classifier,
  trained on training faces, reading its generated faces);
- face_emotion: the corpus's face-emotion classifier (one per corpus).
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

log = logging.getLogger(__name__)

CHAMPION = "champion"
PROTOCOL = "speaker"  # the random split's validation rows share speakers with training


def registered_name(task: str, corpus: str) -> str:
    return f"emoforge-{task}-{corpus}"


def fold_rows(metrics_files: list[Path]) -> list[dict]:
    """SER fold results that logged a model, with corpus, variant, protocol and fold from the
    path data/models/ser/<corpus>/<variant>/<protocol>/fold<k>/metrics.json."""
    rows = []
    for path, result in _logged(metrics_files):
        corpus, variant, protocol, fold = path.parts[-5:-1]
        rows.append({"corpus": corpus, "variant": variant, "protocol": protocol,
                     "fold": int(fold.removeprefix("fold")), "val_ua": result["val/ua"],
                     "test_ua": result["test/ua"], "model_uri": result["mlflow_model_uri"],
                     "metrics_path": str(path)})
    return rows


def _logged(metrics_files) -> list[tuple[Path, dict]]:
    """(path, result) of the runs that logged a model (a fusion or a log-mel GAN has none)."""
    found = [(Path(p), json.loads(Path(p).read_text())) for p in metrics_files]
    return [(p, r) for p, r in found if "mlflow_model_uri" in r]


def champions(rows: list[dict]) -> dict[str, dict]:
    """SER: corpus -> the chosen fold's row, with the variant's mean validation UA.

    A variant trained on its validation speakers (`train_on_val`) has no held-out score to
    compare, so it is chosen only where it is the one variant there, as its first fold."""
    by_variant = defaultdict(list)
    for row in rows:
        if row["protocol"] == PROTOCOL:
            by_variant[row["corpus"], row["variant"]].append(row)
    unvalidated = {key: folds for key, folds in by_variant.items()
                   if any(r["val_ua"] is None for r in folds)}
    best: dict[str, dict] = {}
    for (corpus, variant), folds in sorted(by_variant.items()):
        if (corpus, variant) in unvalidated:
            continue
        mean_val = sum(r["val_ua"] for r in folds) / len(folds)
        if corpus not in best or mean_val > best[corpus]["variant_val_ua"]:
            fold = max(folds, key=lambda r: (r["val_ua"], -r["fold"]))
            best[corpus] = fold | {"variant_val_ua": mean_val}
    for (corpus, variant), folds in sorted(unvalidated.items()):
        if corpus not in best:
            best[corpus] = min(folds, key=lambda r: r["fold"]) | {"variant_val_ua": None}
    return best


def _per_corpus(metrics_files, score) -> dict[str, dict]:
    """translate and faces: data/models/<task>/<corpus>/<variant>/metrics.json, the best
    `score` per corpus."""
    best: dict[str, dict] = {}
    for path, result in _logged(metrics_files):
        corpus, variant = path.parts[-3:-1]
        row = {"corpus": corpus, "variant": variant, "model_uri": result["mlflow_model_uri"],
               "score": score(variant, result)}
        if corpus not in best or row["score"] > best[corpus]["score"]:
            best[corpus] = row
    return best


def translate_champions(metrics_files) -> dict[str, dict]:
    from .translate_clip import PREFERRED

    return _per_corpus(metrics_files, lambda variant, _: -PREFERRED.index(variant) if variant in PREFERRED
                       else -len(PREFERRED))


def faces_champions(metrics_files) -> dict[str, dict]:
    return _per_corpus(metrics_files, lambda _, result: result["gen/conditional_acc"])


def face_emotion_champions(metrics_files) -> dict[str, dict]:
    """data/models/face_classifier/<corpus>/metrics.json: the one classifier per corpus."""
    return {path.parts[-2]: {"corpus": path.parts[-2], "variant": "classifier",
                             "model_uri": result["mlflow_model_uri"], "score": result["val/wa"]}
            for path, result in _logged(metrics_files)}


CHOOSERS = {"ser": lambda files: champions(fold_rows(files)),
            "translate": translate_champions, "faces": faces_champions,
            "face_emotion": face_emotion_champions}


def register_champions(metrics: dict[str, list[Path]], out: Path) -> dict[str, dict[str, dict]]:
    """Register each task x corpus champion; write what was registered to `out` (JSON)."""
    from . import tracking

    chosen = {task: CHOOSERS[task](files) for task, files in metrics.items()}
    for task, by_corpus in chosen.items():
        for corpus, row in by_corpus.items():
            name = registered_name(task, corpus)
            tags = {k: str(v) for k, v in row.items() if k not in ("corpus", "model_uri", "metrics_path")}
            version = tracking.register(name, row["model_uri"], CHAMPION, tags)
            if version is None:
                log.warning("%s: %s is not in the MLflow store at %s (logged to another one): not "
                            "registered", name, row["model_uri"], tracking.tracking_uri())
            row |= {"name": name, "alias": CHAMPION, "version": version}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(chosen, indent=2, sort_keys=True))
    return chosen
