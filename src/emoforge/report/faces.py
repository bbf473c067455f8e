"""The faces part of the report and of `make bench-faces-<corpus>`: the face-emotion
classifier's test accuracy, each generator's conditional accuracy, FID, KID and diversity in
that classifier's features, and the two reference rows (real test faces: the ceiling of
conditional accuracy; real training faces against real test faces: the floor of FID)."""
from __future__ import annotations

import json
from pathlib import Path

from ..labels import FACE_EMOTIONS

PROTOCOL = "official test split"
# metric name in the rows -> key in a generator's metrics.json
GENERATOR_METRICS = {"conditional_acc": "gen/conditional_acc", "fid": "gen/fid", "kid": "gen/kid",
                     "diversity": "gen/diversity"}
# val_acc: the accuracy the epoch was chosen on (validation faces from the training split)
CLASSIFIER_METRICS = {"val_acc": "val/wa", "test_acc": "test/wa", "test_ua": "test/ua"}
FLOOR_METRICS = {"fid": "reference/fid_train_vs_test", "kid": "reference/kid_train_vs_test"}


def _row(corpus: str, variant: str, metric: str, value: float) -> dict:
    return {"task": "faces", "corpus": corpus, "variant": variant, "protocol": PROTOCOL,
            "metric": metric, "mean": round(float(value), 4), "std": 0.0, "folds": 1}


def rows(generators: dict[tuple[str, str], dict]) -> list[dict]:
    """Rows in the reports/metrics.json format, from {(corpus, variant): generator metrics};
    the reference rows come from the classifier figures each generator's metrics carry."""
    out, seen = [], set()
    for (corpus, variant), r in generators.items():
        out += [_row(corpus, variant, name, r[key]) for name, key in GENERATOR_METRICS.items()]
        if corpus not in seen:
            seen.add(corpus)
            out.append(_row(corpus, "real_test_faces", "conditional_acc", r["judge_real_test/ua"]))
            out += [_row(corpus, "real_train_faces", name, r[key]) for name, key in FLOOR_METRICS.items()]
    return out


def table(generators: dict[tuple[str, str], dict], name=lambda c: c) -> list[str]:
    head = "| corpus | variant | conditional acc. | FID ↓ | KID ↓ | diversity | epochs |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    floors = {}
    for (corpus, variant), r in generators.items():
        lines.append(f"| {name(corpus)} | {variant} | {r['gen/conditional_acc']:.3f} | {r['gen/fid']:.4g} | "
                     f"{r['gen/kid']:.4f} | {r['gen/diversity']:.2f} | {r['epochs_run']} |")
        floors[corpus] = r
    for corpus, r in floors.items():
        lines.append(f"| {name(corpus)} | *real test faces* | {r['judge_real_test/ua']:.3f} | – | – | 1.00 | – |")
        lines.append(f"| {name(corpus)} | *real training faces* | – | "
                     f"{r['reference/fid_train_vs_test']:.4g} | {r['reference/kid_train_vs_test']:.4f} | – | – |")
    lines += ["", "Conditional accuracy per class:", "",
              "| corpus | variant | " + " | ".join(FACE_EMOTIONS) + " |",
              "|---|---|" + "---|" * len(FACE_EMOTIONS)]
    for (corpus, variant), r in generators.items():
        cells = " | ".join(f"{r.get(f'gen/acc_{e}', float('nan')):.2f}" for e in FACE_EMOTIONS)
        lines.append(f"| {name(corpus)} | {variant} | {cells} |")
    return lines


EXPLAINED = ("The face-emotion classifier (its own stage, trained on the real training faces only; "
             "no generator trains against it) reads `faces.scored_per_class` faces generated per class. Conditional "
             "accuracy is its mean per-class accuracy on them; the same classifier on the real test "
             "faces is the ceiling. FID and KID compare generated with real test faces in the "
             "classifier's 256-d penultimate features (not Inception's: its weights cannot be "
             "downloaded offline, so these numbers are not comparable with published Inception FIDs); "
             "real training against real test faces is the floor. Diversity is the mean pairwise "
             "feature distance within a class, relative to the real test faces' (1 = as varied, "
             "near 0 = mode collapse).")


def benchmark(classifier_metrics: Path, generator_metrics: list[str], out: Path) -> dict:
    from .build import _parts, device_name

    classifier = json.loads(classifier_metrics.read_text())
    corpus = classifier_metrics.parent.name
    generators = {tuple(_parts(p, 2)): json.loads(Path(p).read_text()) for p in generator_metrics}
    result_rows = [_row(corpus, "classifier", name, classifier[key]) | {
        "wall_s": classifier["wall_s"], "device": device_name([classifier])}
        for name, key in CLASSIFIER_METRICS.items()]
    for r in rows(generators):
        run = generators.get((r["corpus"], r["variant"]))
        result_rows.append(r | ({"wall_s": run["wall_s"], "device": device_name([run])} if run else {}))
    runs = [classifier, *generators.values()]
    result = {"rows": result_rows, "wall_s": round(sum(r["wall_s"] for r in runs), 2),
              "device": device_name(runs)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    md = [f"# Faces benchmark: {corpus}", "", f"Device: {result['device']}; total {result['wall_s']} s.", "",
          "## Face-emotion classifier", "",
          "| validation accuracy | test accuracy | test UA | best epoch / run | wall s |",
          "|---|---|---|---|---|",
          f"| {classifier['val/wa']:.3f} | {classifier['test/wa']:.3f} | {classifier['test/ua']:.3f} "
          f"| {classifier['best_epoch']} / {classifier['epochs_run']} | {classifier['wall_s']} |", "",
          "Published: best single CNN (VGG-style) on FER-2013's test split, accuracy 0.733.", "",
          "## Generators", "", EXPLAINED, "", *table(generators), "",
          "| variant | epochs | wall s |", "|---|---|---|"]
    md += [f"| {variant} | {r['epochs_run']} | {r['wall_s']} |" for (_, variant), r in generators.items()]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    return result
