"""Speech -> SER -> emotion -> generated face (R3's pipeline), from saved test predictions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..labels import FACE_EMOTIONS, SPEECH_TO_FACE
from ..models.face_cgan import FaceGenerator
from ..train.common import load_state


def load_generator(path: Path) -> FaceGenerator:
    state = load_state(path)
    kw = state["config"].get("model", {}).get(state["config"]["variant"], {})
    G = FaceGenerator(len(state["labels"]), **kw)
    G.load_state_dict(state["G"])
    return G.eval()


def chain_png(fold_dir: Path, generator: Path, out: Path, n: int = 8, seed: int = 0) -> list[dict]:
    """One test clip per speech emotion: its true label, SER's prediction, the face made for it."""
    preds = np.load(fold_dir / "predictions.npz")
    labels = json.loads((fold_dir / "metrics.json").read_text())["labels"]
    rows, seen = [], set()
    for item, y, scores in zip(preds["item_id"], preds["y"], preds["scores"]):
        if labels[y] not in seen:
            seen.add(labels[y])
            predicted = labels[int(np.argmax(scores))]
            rows.append({"item": str(item), "true": labels[y], "predicted": predicted,
                         "face": SPEECH_TO_FACE.get(predicted)})
    rows = rows[:n]
    G = load_generator(generator)
    z = torch.randn(len(rows), G.z_dim, generator=torch.Generator().manual_seed(seed))
    classes = torch.tensor([FACE_EMOTIONS.index(r["face"]) if r["face"] else 0 for r in rows])
    with torch.no_grad():
        faces = G(z, classes).numpy()[:, 0]
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(rows), figsize=(1.7 * len(rows), 2.6))
    for ax, r, face in zip(np.atleast_1d(axes), rows, faces):
        if r["face"]:
            ax.imshow(face, cmap="gray", vmin=-1, vmax=1)
        else:
            ax.text(0.5, 0.5, "no face class", ha="center", va="center", fontsize=8)
        ax.set_xticks([]); ax.set_yticks([])
        ax.set_title(f"said: {r['true']}\nheard: {r['predicted']}", fontsize=8,
                     color="black" if r["true"] == r["predicted"] else "firebrick")
    fig.tight_layout(); fig.savefig(out, dpi=110); plt.close(fig)
    return rows
