"""The facial-emotion classifier stage: trained once per face corpus on its training split
(validation carved from it, or FER-2013's PublicTest rows), chosen on validation accuracy,
tested once on the official test split. Its file scores every generator."""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import tracking
from ..evaluate.faces import (class_scores, distribution_distance, face_batches, per_class_accuracy,
                              read_faces)
from ..evaluate.metrics import classification
from ..labels import FACE_EMOTIONS
from ..models.face_classifier import FaceEmotionCNN
from .common import Checkpoint, begin, save_atomic, snapshot, write_json

log = logging.getLogger(__name__)


def load_faces(feature_dir: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The image manifest, the faces scaled to [-1, 1] and their class indices."""
    manifest = pd.read_parquet(feature_dir / "images.parquet")
    images = np.load(feature_dir / "images.npy").astype(np.float32) / 127.5 - 1.0
    labels = manifest["emotion"].map({e: i for i, e in enumerate(FACE_EMOTIONS)})
    if labels.isna().any():
        raise ValueError(f"{feature_dir}: emotions outside {FACE_EMOTIONS}: "
                         f"{sorted(set(manifest['emotion'][labels.isna()]))}")
    return manifest, images, labels.to_numpy(np.int64)


def face_splits(manifest: pd.DataFrame, labels: np.ndarray, val_fraction: float,
                seed: int) -> dict[str, np.ndarray]:
    """train / val / test indices. The CSV's PublicTest rows validate; the image-folder copy
    has none, so a stratified, seeded share of the training faces does. The test split is
    never used to choose anything."""
    split = manifest["split"].to_numpy()
    train, val, test = (np.flatnonzero(split == s) for s in ("train", "val", "test"))
    if len(test) == 0:
        raise ValueError("the face corpus has no test split")
    if len(val) == 0:
        rng = np.random.default_rng(seed)
        held = [rng.permutation(train[labels[train] == k])[:math.ceil(val_fraction * n)]
                for k, n in zip(*np.unique(labels[train], return_counts=True))]
        val = np.sort(np.concatenate(held))
        train = np.setdiff1d(train, val)
    return {"train": train, "val": val, "test": test}


SHARPNESS_RATIO = 1.5  # train/test sharpness beyond this is a domain shift worth a warning


def face_sharpness(images: np.ndarray) -> np.ndarray:
    """Each face's mean absolute difference between horizontal neighbours (0-255 scale)."""
    return np.abs(np.diff(images, axis=2)).mean(axis=(1, 2)) * 127.5


def sharpness(images: np.ndarray) -> float:
    """The median face's sharpness."""
    return float(np.median(face_sharpness(images)))


def check_sharpness(images: np.ndarray, idx: dict[str, np.ndarray]) -> dict:
    """Per-split sharpness, and a warning when training and test faces differ: a classifier
    that only saw blurred faces does not read sharp ones (and the reverse). Uses no labels."""
    found = {f"data/sharpness_{split}": sharpness(images[rows]) for split, rows in idx.items()}
    train, test = found["data/sharpness_train"], found["data/sharpness_test"]
    if max(train, test) > SHARPNESS_RATIO * min(train, test):
        log.warning("training and test faces differ in sharpness (median neighbour difference %.1f "
                    "vs %.1f): the classifier reads the sharper faces poorly unless it sees every "
                    "face at one sharpness (faces.classifier.input_blur: auto does that)", train, test)
    return found


def splits_differ(images: np.ndarray, idx: dict[str, np.ndarray]) -> bool:
    train, test = (sharpness(images[idx[s]]) for s in ("train", "test"))
    return max(train, test) > SHARPNESS_RATIO * min(train, test)


def matching_blur(images: np.ndarray, idx: dict[str, np.ndarray], sample: int = 500) -> float:
    """The Gaussian sigma (px) that brings the sharper of the training and test faces down to
    the other's sharpness, or 0 when they already match. Reads pixels only, never labels."""
    from ..models.face_classifier import GaussianBlur

    if not splits_differ(images, idx):
        return 0.0
    rng = np.random.default_rng(0)
    train, test = (images[rng.permutation(idx[s])[:sample]] for s in ("train", "test"))
    sharper, blurrier = sorted((train, test), key=sharpness, reverse=True)
    target = sharpness(blurrier)
    faces = torch.from_numpy(sharper)[:, None]
    for sigma in np.arange(0.25, 8.01, 0.25):
        if sharpness(GaussianBlur(sigma)(faces)[:, 0].numpy()) <= target:
            log.warning("the classifier blurs every face it reads with sigma %.2f px", sigma)
            return float(sigma)
    return 8.0


def sharpness_cap(images: np.ndarray, idx: dict[str, np.ndarray]) -> float:
    """The training faces' median sharpness when training and test faces differ, else 0 (no
    cap): the classifier then blurs each face sharper than that down to it. Pixels only."""
    if not splits_differ(images, idx):
        return 0.0
    cap = sharpness(images[idx["train"]])
    log.warning("the classifier blurs each face sharper than the training faces' median (%.1f) "
                "down to it", cap)
    return cap


def input_filter(images: np.ndarray, idx: dict[str, np.ndarray], setting) -> dict:
    """The classifier's build arguments for `faces.classifier.input_blur`: auto (a per-face
    sharpness cap), matched (one sigma for every face) or a sigma in px."""
    if setting == "auto":
        return {"input_blur": 0.0, "sharpness_cap": sharpness_cap(images, idx)}
    if setting == "matched":
        return {"input_blur": matching_blur(images, idx), "sharpness_cap": 0.0}
    return {"input_blur": float(setting), "sharpness_cap": 0.0}


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random mirror, rotation (+-10 degrees), zoom (0.9-1.1) and shift (+-4 px) per face."""
    n = len(x)
    angle = (torch.rand(n, generator=gen) - 0.5) * math.radians(20)
    zoom = 0.9 + 0.2 * torch.rand(n, generator=gen)
    mirror = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    shift = (torch.rand(n, 2, generator=gen) - 0.5) * (8 / 24)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(angle) / zoom * mirror
    theta[:, 0, 1] = -torch.sin(angle) / zoom
    theta[:, 1, 0] = torch.sin(angle) / zoom * mirror
    theta[:, 1, 1] = torch.cos(angle) / zoom
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


@torch.no_grad()
def filter_faces(model: FaceEmotionCNN, faces: np.ndarray, device, batch: int = 1024) -> np.ndarray:
    """The faces through the model's fixed input filter (blur, sharpness cap). Training filters
    its faces once, then augments them, instead of filtering every batch of every epoch."""
    filtered = [model.input_filter(x) for x in face_batches(faces, device, batch)]
    return torch.cat(filtered)[:, 0].cpu().numpy()


def train_epoch(model, opt, sched, images, labels, batch_size, device, gen) -> float:
    """One pass over faces already through the input filter."""
    model.train()
    total, steps = 0.0, 0
    for batch in torch.randperm(len(images), generator=gen).split(batch_size):
        if len(batch) < 2:  # BatchNorm needs two
            continue
        x = augment(torch.from_numpy(images[batch.numpy()])[:, None], gen).to(device)
        y = torch.from_numpy(labels[batch.numpy()]).to(device)
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            loss = F.cross_entropy(model.head(model.embed_filtered(x)), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total += loss.item()
        steps += 1
    return total / max(steps, 1)


def fit(cfg: dict, feature_dir: Path, out: Path, corpus: str) -> dict:
    t0 = time.time()
    seed, gen, device = begin(cfg)
    manifest, images, labels = load_faces(feature_dir)
    idx = face_splits(manifest, labels, float(cfg["val_fraction"]), seed)
    sharpness = check_sharpness(images, idx)
    build = {"width": int(cfg["width"]), "embed_dim": int(cfg["embed_dim"]),
             **input_filter(images, idx, cfg.get("input_blur", "auto"))}
    model = FaceEmotionCNN(len(FACE_EMOTIONS), **build).to(device)
    epochs, batch_size = int(cfg["epochs"]), int(cfg["batch_size"])
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]),
                            weight_decay=float(cfg["weight_decay"]))
    steps = epochs * math.ceil(len(idx["train"]) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(cfg["lr"]), total_steps=steps)
    run_cfg = {k: v for k, v in cfg.items() if k != "device"} | {"corpus": corpus}
    ckpt = Checkpoint(out / "checkpoint.pt", run_cfg, model=model, opt=opt, sched=sched)
    progress = ckpt.resume(device, gen) or {"epoch": -1, "best": {"val/wa": -1.0},
                                            "history": [], "run_id": None}
    best, history = progress["best"], progress["history"]
    train_x, train_y = filter_faces(model, images[idx["train"]], device), labels[idx["train"]]

    with tracking.run("faces", f"{corpus}/classifier", run_cfg,
                      tags={"task": "face_emotion", "corpus": corpus, "device": device.type},
                      resume_id=progress["run_id"]) as mlrun:
        for epoch in tqdm(range(progress["epoch"] + 1, epochs), desc=f"face classifier {corpus}",
                          unit="epoch"):
            loss = train_epoch(model, opt, sched, train_x, train_y, batch_size, device, gen)
            val = classification(labels[idx["val"]], class_scores(model, images[idx["val"]], device),
                                 FACE_EMOTIONS, "val")
            row = {"epoch": epoch, "train/loss": loss, "val/wa": val["val/wa"], "val/ua": val["val/ua"]}
            history.append(row)
            mlrun.metrics(row, step=epoch)
            if val["val/wa"] > best["val/wa"]:
                best = {"val/wa": val["val/wa"], "epoch": epoch, "model": snapshot(model)}
            ckpt.save({"epoch": epoch, "best": best, "history": history, "run_id": mlrun.run_id}, gen)
        model.load_state_dict(best["model"])
        result = evaluate(model, images, labels, idx, device)
        result |= sharpness | {k: build[k] for k in ("input_blur", "sharpness_cap")}
        result |= {"labels": FACE_EMOTIONS, "epochs_run": len(history), "best_epoch": best["epoch"],
                   "val/wa": best["val/wa"], "train/images": int(len(idx["train"])),
                   "wall_s": round(time.time() - t0, 2), "device": device.type,
                   "mlflow_run_id": mlrun.run_id}
        mlrun.metrics({k: v for k, v in result.items()
                       if k.startswith(("test/", "reference/")) and not k.endswith("confusion")})
        save_atomic({"task": "face_emotion", "labels": FACE_EMOTIONS, "build": build,
                     "state_dict": model.state_dict(), "config": run_cfg}, out / "classifier.pt")
        pd.DataFrame(history).to_csv(out / "history.csv", index=False)
        result["mlflow_model_uri"] = mlrun.model(out / "classifier.pt")
        write_json(out / "metrics.json", result)
        mlrun.artifact(out / "metrics.json")
    return result


def evaluate(model, images, labels, idx, device) -> dict:
    """Test accuracy (the generators' ceiling) and the real-vs-real FID floor."""
    scores, test_features = read_faces(model, images[idx["test"]], device)
    result = classification(labels[idx["test"]], scores, FACE_EMOTIONS, "test")
    result |= per_class_accuracy(labels[idx["test"]], scores, FACE_EMOTIONS, "test")
    _, train_features = read_faces(model, images[idx["train"]], device)
    floor = distribution_distance(test_features, train_features)
    return result | {f"reference/{k}_train_vs_test": v for k, v in floor.items()}
