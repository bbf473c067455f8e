"""How good generated faces are, measured offline in the features of our own FER classifier
(Inception's weights cannot be downloaded here, and a face classifier sees expressions).

- conditional accuracy: the classifier's accuracy on faces generated for each class;
- FID and KID (torchmetrics, with the classifier's penultimate layer as the extractor)
  against the real test faces; real training faces against real test faces is the floor;
- diversity: mean pairwise feature distance within a class, divided by the same for the real
  test faces of that class. 1 is as varied as real faces; near 0 is mode collapse.

The classifier is its own workflow stage, trained on real training faces only: no generator
ever trains against the network that scores it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..labels import FACE_EMOTIONS
from ..models.face_classifier import FaceEmotionCNN
from ..train.common import load_state
from .metrics import classification

KID_SUBSET = 1000
BATCH = 512


def load_classifier(path: Path, device=torch.device("cpu")) -> tuple[FaceEmotionCNN, list[str]]:
    state = load_state(path)
    if not isinstance(state, dict) or state.get("task") != "face_emotion":
        raise ValueError(f"{path} is not an emoforge face-emotion classifier (task "
                         f"{state.get('task') if isinstance(state, dict) else None!r})")
    model = FaceEmotionCNN(len(state["labels"]), **state["build"])
    model.load_state_dict(state["state_dict"])
    return model.to(device).eval(), list(state["labels"])


def face_batches(images: np.ndarray, device, size: int = BATCH):
    """(n, 48, 48) faces as float tensors of up to `size` faces, (k, 1, 48, 48), on `device`."""
    for start in range(0, len(images), size):
        yield torch.from_numpy(images[start:start + size]).float()[:, None].to(device)


@torch.no_grad()
def read_faces(classifier: FaceEmotionCNN, images: np.ndarray, device) -> tuple[np.ndarray, np.ndarray]:
    """(softmax scores, penultimate features) of each face. The scores average the face and its
    mirror image (faces are near-symmetric and the classifier trained on both)."""
    classifier.eval()
    scores, features = [], []
    for x in face_batches(images, device):
        embedded = classifier.embed(x)
        logits = classifier.head(embedded).float() + classifier(x.flip(3)).float()
        scores.append(torch.softmax(logits / 2, 1).cpu())
        features.append(embedded.double().cpu())
    return torch.cat(scores).numpy(), torch.cat(features).numpy()


def class_scores(classifier: FaceEmotionCNN, images: np.ndarray, device) -> np.ndarray:
    return read_faces(classifier, images, device)[0]


class _Given(torch.nn.Module):
    """torchmetrics' FID/KID run a feature extractor over what update() gets: handing them
    features already read lets one classifier pass serve scores, FID, KID and diversity."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def distribution_distance(real: np.ndarray, fake: np.ndarray) -> dict:
    """FID and KID between two sets of classifier features, (n, d) each."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    extractor = _Given(real.shape[1])
    subset = min(KID_SUBSET, len(real), len(fake))
    fid = FrechetInceptionDistance(feature=extractor)
    kid = KernelInceptionDistance(feature=extractor, subset_size=subset)
    torch.manual_seed(0)  # KID draws its subsets from torch's global stream
    for metric in (fid, kid):
        metric.update(torch.from_numpy(real), real=True)
        metric.update(torch.from_numpy(fake), real=False)
    kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}


def _pairwise_spread(features: np.ndarray, limit: int = 500) -> float:
    x = torch.from_numpy(features[:limit])
    return float(torch.pdist(x).mean()) if len(x) > 1 else 0.0


def diversity(real_features: np.ndarray, real_labels: np.ndarray, fake_features: np.ndarray,
              fake_labels: np.ndarray, labels: list[str]) -> dict:
    out = {}
    for k, name in enumerate(labels):
        real_spread = _pairwise_spread(real_features[real_labels == k])
        fake_spread = _pairwise_spread(fake_features[fake_labels == k])
        out[f"diversity_{name}"] = fake_spread / real_spread if real_spread > 0 else float("nan")
    out["diversity"] = float(np.nanmean(list(out.values())))
    return out


def per_class_accuracy(y: np.ndarray, scores: np.ndarray, labels: list[str], prefix: str) -> dict:
    predicted = scores.argmax(1)
    return {f"{prefix}/acc_{name}": float((predicted[y == k] == k).mean())
            for k, name in enumerate(labels) if (y == k).any()}


def score_generated(classifier, fake: np.ndarray, fake_labels: np.ndarray, real: np.ndarray,
                    real_labels: np.ndarray, device, prefix: str = "gen") -> dict:
    """Every generator metric: `fake` holds faces generated for `fake_labels` (class indices
    into FACE_EMOTIONS); `real`/`real_labels` are the real test faces."""
    scores, fake_features = read_faces(classifier, fake, device)
    _, real_features = read_faces(classifier, real, device)
    result = classification(fake_labels, scores, FACE_EMOTIONS, prefix)
    result |= per_class_accuracy(fake_labels, scores, FACE_EMOTIONS, prefix)
    result[f"{prefix}/conditional_acc"] = result[f"{prefix}/ua"]  # mean over the classes
    distance = distribution_distance(real_features, fake_features)
    spread = diversity(real_features, real_labels, fake_features, fake_labels, FACE_EMOTIONS)
    return result | {f"{prefix}/{k}": v for k, v in (distance | spread).items()}
