"""Conditional face GANs, scored by the face-emotion classifier stage (never trained against).

Each variant's recipe (loss, optimiser, batch, EMA, and epochs if not faces.epochs) is its
registry row's options, overridable under faces.model.<variant>; the rest of those options
build the networks."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import models, tracking
from ..evaluate.faces import class_scores, load_classifier, score_generated
from ..labels import FACE_EMOTIONS
from .common import Checkpoint, averaged, begin, load_state, save_atomic, write_json
from .face_classifier import face_splits, load_faces

RECIPE_KEYS = {"loss", "lr", "betas", "batch_size", "label_smoothing", "separate_d_steps", "ema",
               "epochs", "aux_weight"}
PROBE_PER_CLASS = 50


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


# name -> (D's loss on real logits given label smoothing, D's loss on fake logits, G's loss)
LOSSES = {
    "bce": (lambda real, smooth: _bce(real, 1.0 - smooth), lambda fake: _bce(fake, 0.0),
            lambda fake: _bce(fake, 1.0)),
    "hinge": (lambda real, smooth: F.relu(1.0 - real).mean(), lambda fake: F.relu(1.0 + fake).mean(),
              lambda fake: -fake.mean()),
}


def _update(opt: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def critic(D, x, lbl, recipe) -> tuple[torch.Tensor, torch.Tensor | float]:
    """D's real/fake logits for x and, with an auxiliary class head (aux_weight > 0), the
    weighted cross-entropy of its class logits against lbl; else 0."""
    weight = float(recipe.get("aux_weight", 0.0))
    if not weight:
        return D(x, lbl), 0.0
    logits, class_logits = D(x, lbl, with_classes=True)
    return logits, weight * F.cross_entropy(class_logits, lbl)


def d_step(D, opt_d, real, real_lbl, fake, fake_lbl, recipe) -> float:
    d_real, d_fake, _ = LOSSES[recipe["loss"]]
    # the class head learns from real faces only: on fakes it would learn G's mistakes
    real_logits, real_class_loss = critic(D, real, real_lbl, recipe)
    real_loss = d_real(real_logits, float(recipe["label_smoothing"])) + real_class_loss
    if recipe["separate_d_steps"]:  # R3: one update on the real half, then one on the fake half
        return _update(opt_d, real_loss) + _update(opt_d, d_fake(D(fake, fake_lbl)))
    return _update(opt_d, real_loss + d_fake(D(fake, fake_lbl)))


def g_step(G, D, opt_g, z, lbl, recipe) -> float:
    fake_logits, fake_class_loss = critic(D, G(z, lbl), lbl, recipe)
    return _update(opt_g, LOSSES[recipe["loss"]][2](fake_logits) + fake_class_loss)


def sample(G, labels: np.ndarray, device, seed: int) -> np.ndarray:
    """(n, 48, 48) faces in [-1, 1] for class indices `labels`, from a seeded noise stream."""
    G.eval()
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(len(labels), G.z_dim, generator=g)
    y = torch.from_numpy(labels)
    with torch.no_grad():  # in chunks: R3's 128-channel 48x48 maps take 1.2 MB per face
        return torch.cat([G(z[i:i + 256].to(device), y[i:i + 256].to(device)).float().cpu()
                          for i in range(0, len(labels), 256)]).numpy()[:, 0]


def split_options(variant: str, cfg: dict) -> tuple[dict, dict]:
    """(training recipe, network build options) of a variant under this config."""
    settings = models.get(variant, "faces").settings(cfg)
    recipe = {k: v for k, v in settings.items() if k in RECIPE_KEYS}
    return recipe, {k: v for k, v in settings.items() if k not in RECIPE_KEYS}


def load_generator(generator_file: Path) -> tuple[torch.nn.Module, dict]:
    state = load_state(generator_file)
    if not isinstance(state, dict) or state.get("task") != "faces":
        raise ValueError(f"{generator_file} is not an emoforge face generator")
    G, _ = models.get(state["variant"], "faces").build(n_classes=len(state["labels"]), **state["build"])
    G.load_state_dict(state["G"])
    return G.eval(), state


def generate(generator_file: Path, emotions: list[str], seed: int = 0) -> np.ndarray:
    """(n, 48, 48) uint8 faces, one per emotion asked for, from a generator.pt fit() wrote."""
    G, state = load_generator(generator_file)
    unknown = sorted(set(emotions) - set(state["labels"]))
    if unknown:
        raise ValueError(f"this generator knows {state['labels']}, not {unknown}")
    labels = np.array([state["labels"].index(e) for e in emotions])
    return to_uint8(sample(G, labels, torch.device("cpu"), seed))


def to_uint8(faces: np.ndarray) -> np.ndarray:
    return ((faces + 1) * 127.5).clip(0, 255).astype(np.uint8)


def fit(cfg: dict, feature_dir: Path, classifier_file: Path, out: Path, corpus: str, variant: str) -> dict:
    t0 = time.time()
    seed, gen, device = begin(cfg)
    manifest, images, labels = load_faces(feature_dir)
    idx = face_splits(manifest, labels, float(cfg.get("val_fraction", 0.1)), seed)
    train = np.concatenate([idx["train"], idx["val"]])  # validation only matters to the classifier
    classifier, _ = load_classifier(classifier_file, device)
    recipe, build = split_options(variant, cfg)
    epochs = int(recipe.pop("epochs", cfg["epochs"]))  # a variant may train longer than faces.epochs
    G, D = models.get(variant, "faces").build(n_classes=len(FACE_EMOTIONS), **build)
    G, D = G.to(device), D.to(device)
    betas = tuple(recipe["betas"])
    opt_g = torch.optim.Adam(G.parameters(), lr=float(recipe["lr"]), betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=float(recipe["lr"]), betas=betas)
    ema = float(recipe.get("ema", 0.0))
    G_avg = averaged(G, ema)
    # faces.model is in as recipe and build, less the per-variant epochs, which may change on resume
    run_cfg = {k: v for k, v in cfg.items() if k not in ("device", "model")} | {
        "corpus": corpus, "variant": variant, "recipe": recipe, "build": build}
    ckpt = Checkpoint(out / "checkpoint.pt", run_cfg, G=G, D=D, opt_g=opt_g, opt_d=opt_d,
                      G_avg=G_avg)
    progress = ckpt.resume(device, gen) or {"epoch": -1, "history": [], "run_id": None}
    history = progress["history"]
    real_x, real_y = torch.from_numpy(images[train])[:, None], torch.from_numpy(labels[train])
    n_classes, batch_size = len(FACE_EMOTIONS), int(recipe["batch_size"])
    probe = np.repeat(np.arange(n_classes), PROBE_PER_CLASS)

    def generator() -> torch.nn.Module:  # the weights that get scored and saved
        return G_avg.module if ema else G

    with tracking.run("faces", f"{corpus}/{variant}", run_cfg,
                      tags={"task": "faces", "corpus": corpus, "variant": variant, "device": device.type},
                      resume_id=progress["run_id"]) as mlrun:
        for epoch in tqdm(range(progress["epoch"] + 1, epochs),
                          desc=f"faces {corpus}/{variant}", unit="epoch"):
            G.train()
            D.train()
            d_losses, g_losses = [], []
            for batch in torch.randperm(len(real_x), generator=gen).split(batch_size):
                real, real_lbl = real_x[batch].to(device), real_y[batch].to(device)
                fake_lbl = torch.randint(0, n_classes, (len(batch),), generator=gen).to(device)
                z = torch.randn(len(batch), G.z_dim, generator=gen).to(device)
                with torch.no_grad():
                    fake = G(z, fake_lbl)
                d_losses.append(d_step(D, opt_d, real, real_lbl, fake, fake_lbl, recipe))
                # R3 trains G on a full batch: its real and fake halves' worth of noise
                g_size = 2 * len(batch) if recipe["separate_d_steps"] else len(batch)
                z = torch.randn(g_size, G.z_dim, generator=gen).to(device)
                g_lbl = torch.randint(0, n_classes, (g_size,), generator=gen).to(device)
                g_losses.append(g_step(G, D, opt_g, z, g_lbl, recipe))
                if ema:
                    G_avg.update_parameters(G)
            probe_faces = sample(generator(), probe, device, seed)
            acc = float((class_scores(classifier, probe_faces, device).argmax(1) == probe).mean())
            row = {"epoch": epoch, "train/d_loss": float(np.mean(d_losses)),
                   "train/g_loss": float(np.mean(g_losses)), "gen/probe_acc": acc}
            history.append(row)
            mlrun.metrics(row, step=epoch)
            ckpt.save({"epoch": epoch, "history": history, "run_id": mlrun.run_id}, gen)
        result = evaluate(generator(), classifier, images, labels, idx["test"], device, seed,
                          int(cfg["scored_per_class"]))
        result |= {"labels": FACE_EMOTIONS, "epochs_run": len(history),
                   "train/images": int(len(train)), "wall_s": round(time.time() - t0, 2),
                   "device": device.type, "mlflow_run_id": mlrun.run_id}
        result |= reference_rows(classifier_file)
        mlrun.metrics({k: v for k, v in result.items()
                       if k.startswith(("gen/", "judge_real_test/")) and not k.endswith("confusion")})
        save_atomic({"task": "faces", "variant": variant, "G": generator().state_dict(),
                     "labels": FACE_EMOTIONS, "z_dim": G.z_dim, "build": build, "config": run_cfg},
                    out / "generator.pt")
        result["mlflow_model_uri"] = mlrun.model(out / "generator.pt")
        grid = sample(generator(), np.repeat(np.arange(n_classes), 8), device, seed + 2)
        np.save(out / "samples.npy", to_uint8(grid))
        pd.DataFrame(history).to_csv(out / "history.csv", index=False)
        write_json(out / "metrics.json", result)
        mlrun.artifact(out / "metrics.json")
        mlrun.artifact(out / "samples.npy")
    return result


def evaluate(G, classifier, images, labels, test, device, seed: int, per_class: int) -> dict:
    wanted = np.repeat(np.arange(len(FACE_EMOTIONS)), per_class)
    fake = sample(G, wanted, device, seed + 1)
    return score_generated(classifier, fake, wanted, images[test], labels[test], device)


def reference_rows(classifier_file: Path) -> dict:
    """The classifier's own figures beside each generator's: its accuracy on real test faces
    (the ceiling of conditional accuracy) and real-train vs real-test FID/KID (the floor)."""
    import json

    scored = json.loads((classifier_file.parent / "metrics.json").read_text())
    keep = {"test/wa": "judge_real_test/wa", "test/ua": "judge_real_test/ua"}
    rows = {new: scored[old] for old, new in keep.items()}
    return rows | {k: v for k, v in scored.items() if k.startswith("reference/")}
