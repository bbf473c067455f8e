"""The MLflow Model Registry's champions: per corpus, the best trained SER model, registered as
emoforge-ser-<corpus> with the alias `champion` (what `emoforge predict` takes by default).

Chosen without looking at any test fold: among speaker-independent runs, the variant with the
best mean validation UA over its folds, then its fold with the best validation UA."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from .predict import CHAMPION, REGISTERED_PREFIX

PROTOCOL = "speaker"  # the random split's validation rows share speakers with training


def fold_rows(metrics_files: list[Path]) -> list[dict]:
    """Fold results that logged a model, with corpus, variant, protocol and fold from the path
    data/models/ser/<corpus>/<variant>/<protocol>/fold<k>/metrics.json."""
    rows = []
    for path in map(Path, metrics_files):
        result = json.loads(path.read_text())
        if "mlflow_model_uri" not in result:  # a fusion has no model of its own
            continue
        corpus, variant, protocol, fold = path.parts[-5:-1]
        rows.append({"corpus": corpus, "variant": variant, "protocol": protocol,
                     "fold": int(fold.removeprefix("fold")), "val_ua": result["val/ua"],
                     "test_ua": result["test/ua"], "model_uri": result["mlflow_model_uri"]})
    return rows


def champions(rows: list[dict]) -> dict[str, dict]:
    """corpus -> the chosen fold's row, with the variant's mean validation UA."""
    by_variant = defaultdict(list)
    for row in rows:
        if row["protocol"] == PROTOCOL:
            by_variant[row["corpus"], row["variant"]].append(row)
    best: dict[str, dict] = {}
    for (corpus, variant), folds in sorted(by_variant.items()):
        mean_val = sum(r["val_ua"] for r in folds) / len(folds)
        if corpus not in best or mean_val > best[corpus]["variant_val_ua"]:
            fold = max(folds, key=lambda r: (r["val_ua"], -r["fold"]))
            best[corpus] = fold | {"variant_val_ua": mean_val}
    return best


def register_champions(metrics_files: list[Path], out: Path) -> dict[str, dict]:
    """Register each corpus's champion and write what was registered to `out` (JSON)."""
    from . import tracking

    chosen = champions(fold_rows(metrics_files))
    for corpus, row in chosen.items():
        name = f"{REGISTERED_PREFIX}{corpus}"
        tags = {k: str(row[k]) for k in ("variant", "protocol", "fold", "val_ua", "variant_val_ua")}
        row |= {"name": name, "alias": CHAMPION,
                "version": tracking.register(name, row["model_uri"], CHAMPION, tags)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(chosen, indent=2, sort_keys=True))
    return chosen
