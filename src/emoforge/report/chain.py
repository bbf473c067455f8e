"""Speech -> SER -> emotion -> generated face (R3's pipeline), from saved test predictions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..labels import SPEECH_TO_FACE
from ..train.faces import generate


def chain_rows(fold_dir: Path, generator: Path, n: int = 8, seed: int = 0) -> list[dict]:
    """One test clip per speech emotion: its item id, true label, SER's prediction, the face
    class that prediction maps to and the face drawn for it (48x48 uint8)."""
    preds = np.load(fold_dir / "predictions.npz")
    labels = json.loads((fold_dir / "metrics.json").read_text())["labels"]
    rows, seen = [], set()
    for item, y, scores in zip(preds["item_id"], preds["y"], preds["scores"]):
        if labels[y] not in seen:
            seen.add(labels[y])
            predicted = labels[int(np.argmax(scores))]
            rows.append({"item": str(item), "true": labels[y], "predicted": predicted,
                         "face": SPEECH_TO_FACE[predicted]})
    rows = rows[:n]
    for row, image in zip(rows, generate(generator, [r["face"] for r in rows], seed)):
        row["image"] = image
    return rows


def chain_png(rows: list[dict], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(rows), figsize=(1.7 * len(rows), 2.6))
    for ax, r in zip(np.atleast_1d(axes), rows):
        ax.imshow(r["image"], cmap="gray", vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"said: {r['true']}\nheard: {r['predicted']}\nface: {r['face']}", fontsize=8,
                     color="black" if r["true"] == r["predicted"] else "firebrick")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
