"""Fit one SER variant on one speaker-independent fold: fit(cfg, paths) -> metrics."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .. import models, predict, tracking
from ..evaluate.metrics import classification
from .common import Checkpoint, averaged, begin, snapshot, write_json
from .inputs import prepare_fold

log = logging.getLogger(__name__)


@dataclass
class Paths:
    features: Path   # data/features/<corpus>
    out: Path        # data/models/ser/<corpus>/<variant>/<protocol>/fold<k>


def _emotion(out) -> torch.Tensor:
    """Multitask models return a dict of heads; the emotion head is what is evaluated."""
    return out["emotion"] if isinstance(out, dict) else out


def aux_targets(manifest) -> dict[str, tuple[np.ndarray, int]]:
    """R4's auxiliary tasks, where the index has them: gender, intensity (classes; -100 where
    unknown) and valence/arousal/dominance (3 regression targets, z-scored)."""
    out = {}
    for col in ("gender", "intensity"):
        values = manifest[col].astype("string")
        kinds = sorted(values.dropna().unique())
        if len(kinds) > 1:
            out[col] = (values.map({k: i for i, k in enumerate(kinds)}).fillna(-100).astype(np.int64).to_numpy(), len(kinds))
    if {"valence", "arousal", "dominance"} <= set(manifest.columns):
        vad = manifest[["valence", "arousal", "dominance"]].to_numpy(np.float32)
        out["vad"] = (np.nan_to_num((vad - np.nanmean(vad, 0)) / (np.nanstd(vad, 0) + 1e-6)), 3)  # unknown -> mean
    return out


def aux_losses(out: dict, aux: dict, part: np.ndarray, device) -> dict[str, torch.Tensor]:
    """Each auxiliary task's loss on a batch: cross-entropy (unknown targets ignored), or
    mean squared error for valence/arousal/dominance."""
    losses = {}
    for task, (targets, _) in aux.items():
        t = torch.from_numpy(targets[part]).to(device)
        if task == "vad":
            losses[task] = F.mse_loss(out[task].float(), t)
        elif (t >= 0).any():
            losses[task] = F.cross_entropy(out[task].float(), t, ignore_index=-100)
    return losses


def weigh_aux(model, losses: dict[str, torch.Tensor], weights: dict) -> torch.Tensor:
    """A model's own weighting (R4's learned uncertainties), else fixed `aux_weights` (0.3)."""
    if hasattr(model, "weigh"):
        return model.weigh(losses)
    return sum(weights.get(task, 0.3) * loss for task, loss in losses.items())


def mixup_pairs(n: int, alpha: float, rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """Mixup (Zhang et al. 2018): a Beta(alpha, alpha) weight and a partner for every example;
    alpha 0 turns it off (weight 1)."""
    if alpha <= 0 or n < 2:
        return 1.0, np.arange(n)
    lam = float(rng.beta(alpha, alpha))
    return max(lam, 1 - lam), rng.permutation(n)


def _predict(model, inputs, idx, batch, device) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        out = [_emotion(model(inputs.batch(idx[s:s + batch]).to(device))).float().cpu() for s in range(0, len(idx), batch)]
    return torch.cat(out).numpy() if out else np.zeros((0, 1))


def _predict_tta(model, inputs, idx, batch, device) -> np.ndarray:
    """Mean class probabilities over the inputs' test-time views."""
    model.eval()
    with torch.no_grad():
        probs = [torch.cat([torch.softmax(_emotion(model(v[s:s + batch].to(device))).float(), 1).cpu()
                            for s in range(0, len(idx), batch)]) for v in inputs.views(idx)]
    return torch.stack(probs).mean(0).numpy()


def _lr(cfg: dict) -> float:
    return float(cfg["lr"])


# Optimisers and learning-rate schedules, by the names `ser.optimizer` and `ser.schedule` take.
OPTIMIZERS = {
    "adamw": lambda params, cfg: torch.optim.AdamW(params, lr=_lr(cfg), weight_decay=float(cfg["weight_decay"])),
    # Adam with L2 weight decay (R2's PyTorch); RMSprop with Keras' rho and epsilon (R3)
    "adam": lambda params, cfg: torch.optim.Adam(params, lr=_lr(cfg), weight_decay=float(cfg["weight_decay"])),
    "rmsprop": lambda params, cfg: torch.optim.RMSprop(params, lr=_lr(cfg), alpha=0.9, eps=1e-7,
                                                       weight_decay=float(cfg["weight_decay"])),
    "sgd": lambda params, cfg: torch.optim.SGD(params, lr=_lr(cfg), momentum=float(cfg.get("momentum", 0.9)),
                                               weight_decay=float(cfg["weight_decay"])),
}


def make_optimizer(params, cfg: dict):
    name = cfg.get("optimizer", "adamw")
    if name not in OPTIMIZERS:
        raise KeyError(f"unknown optimizer {name!r}; known: {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](params, cfg)


@dataclass(frozen=True)
class Schedule:
    make: Callable  # (optimizer, cfg, batches per epoch) -> a torch scheduler
    steps_on: str   # "batch", "epoch", or "val" (stepped with the validation UA)


SCHEDULES = {
    "plateau": Schedule(lambda opt, cfg, n: torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", factor=0.5, patience=int(cfg["lr_patience"])), "val"),
    "multistep": Schedule(lambda opt, cfg, n: torch.optim.lr_scheduler.MultiStepLR(
        opt, milestones=list(cfg["milestones"]), gamma=float(cfg.get("gamma", 0.1))), "epoch"),
    # Keras' legacy `decay`: lr / (1 + decay * iterations), as R3's RMSprop(decay=1e-6)
    "inverse_time": Schedule(lambda opt, cfg, n: torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 1.0 / (1.0 + float(cfg["lr_decay"]) * step)), "batch"),
    "onecycle": Schedule(lambda opt, cfg, n: torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=_lr(cfg), total_steps=int(cfg["epochs"]) * n), "batch"),
}


def make_schedule(opt, cfg: dict, batches: int, has_val: bool):
    name = cfg.get("schedule", "plateau")
    if name not in SCHEDULES:
        raise KeyError(f"unknown schedule {name!r}; known: {sorted(SCHEDULES)}")
    if SCHEDULES[name].steps_on == "val" and not has_val:
        raise ValueError(f"schedule {name!r} follows the validation UA, but this protocol has no "
                         "validation rows: choose another schedule")
    return SCHEDULES[name].make(opt, cfg, batches), SCHEDULES[name].steps_on


def make_loss(cfg: dict, y_train: np.ndarray, n_classes: int, device) -> nn.Module:
    """Cross-entropy, class-weighted against imbalance unless `class_weights: none`."""
    weights = None
    if cfg.get("class_weights", "balanced") == "balanced":
        counts = np.bincount(y_train, minlength=n_classes).astype(np.float32)
        weights = torch.tensor(counts.sum() / np.maximum(counts, 1) / n_classes, device=device)
    return nn.CrossEntropyLoss(weight=weights, label_smoothing=float(cfg.get("label_smoothing", 0.05)))


def fit(cfg: dict, paths: Paths, corpus: str, variant: str, fold: int, protocol: str = "speaker") -> dict:
    t0 = time.time()
    seed, gen, device = begin(cfg, offset=fold)
    spec = models.get(variant, "ser")
    data = prepare_fold(spec.feature, paths.features, cfg, protocol, fold, seed)
    inputs, labels_text, y, idx = data.inputs, data.labels, data.y, data.idx
    manifest = inputs.manifest
    has_val = len(idx["val"]) > 0

    aux = aux_targets(manifest) if spec.multitask else {}
    extra = {"aux": {k: n for k, (_, n) in aux.items()}} if spec.multitask else {}
    build_args = {"n_classes": len(labels_text), **inputs.dims(), **extra, **spec.settings(cfg)}
    model = spec.build(**build_args)
    model.to(device)
    opt = make_optimizer(model.parameters(), cfg)
    batch = int(cfg["batch_size"])
    eval_batch = int(cfg.get("eval_batch_size", batch))  # R2's sequence models mix a batch's clips
    sched, sched_steps_on = make_schedule(opt, cfg, -(-len(idx["train"]) // batch), has_val)
    loss_fn = make_loss(cfg, y[idx["train"]], len(labels_text), device)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    run_cfg = {k: v for k, v in cfg.items() if k not in ("device",)} | {
        "corpus": corpus, "variant": variant, "fold": fold, "protocol": protocol}
    # with `ema`, the moving average of the weights is what is validated, kept and tested
    model_avg = averaged(model, float(cfg.get("ema", 0.0)))
    scored = model if model_avg is None else model_avg.module
    ckpt = Checkpoint(paths.out.parent / "checkpoints" / f"fold{fold}.pt", run_cfg, model=model, opt=opt,
                      sched=sched, scaler=scaler, model_avg=model_avg)
    rng = np.random.default_rng(seed + fold)
    progress = ckpt.resume(device, gen, rng) or {
        "epoch": -1, "best": {"val/ua": -1.0}, "history": [], "run_id": None, "bad_epochs": 0}
    start, best, history, bad_epochs = progress["epoch"] + 1, progress["best"], progress["history"], \
        progress["bad_epochs"]

    with tracking.run("ser", f"{corpus}/{variant}/{protocol}/fold{fold}", run_cfg,
                      tags={"task": "ser", "corpus": corpus, "variant": variant, "fold": str(fold),
                            "protocol": protocol, "device": device.type}, resume_id=progress["run_id"],
                      group=f"{corpus}/{variant}/{protocol}") as mlrun:
        bar = tqdm(range(start, int(cfg["epochs"])), desc=f"ser {corpus}/{variant}/fold{fold}", unit="epoch")
        for epoch in bar:
            model.train()
            order = rng.permutation(idx["train"])
            total, n = 0.0, 0
            for s in range(0, len(order), batch):
                part = order[s:s + batch]
                x = inputs.augment(inputs.batch(part, rng), gen).to(device)
                lam, mate = mixup_pairs(len(part), float(cfg.get("mixup", 0.0)), rng)
                x = lam * x + (1 - lam) * x[torch.from_numpy(mate).to(device)]
                t = torch.from_numpy(y[part]).to(device)
                with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                    out = model(x)
                    loss = torch.zeros((), device=device)
                    for w, rows in ((lam, part), (1 - lam, part[mate])):  # the two targets of a mixed batch
                        if w > 0:
                            loss = loss + w * loss_fn(_emotion(out), torch.from_numpy(y[rows]).to(device))
                            if aux:
                                losses = aux_losses(out, aux, rows, device)
                                loss = loss + w * weigh_aux(model, losses, cfg.get("aux_weights", {}))
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                if sched_steps_on == "batch":
                    sched.step()
                if model_avg is not None:
                    model_avg.update_parameters(model)
                total, n = total + loss.item() * len(t), n + len(t)
            row = {"epoch": epoch, "train/loss": total / max(n, 1), "lr": opt.param_groups[0]["lr"]}
            if has_val:
                val = classification(y[idx["val"]], _predict(scored, inputs, idx["val"], eval_batch, device),
                                     labels_text, "val")
                row.update({"val/ua": val["val/ua"], "val/wa": val["val/wa"]})
            if sched_steps_on != "batch":
                sched.step(*([row["val/ua"]] if sched_steps_on == "val" else []))
            history.append(row)
            mlrun.metrics(row, step=epoch)
            shown = {"val_ua": f"{row['val/ua']:.3f}"} if has_val else {}
            bar.set_postfix(loss=f"{row['train/loss']:.3f}", **shown)
            # without validation rows (R3's protocol) the last epoch is the one kept
            if not has_val or row["val/ua"] > best["val/ua"]:
                best = {"val/ua": row.get("val/ua"), "epoch": epoch, "model": snapshot(scored)}
                bad_epochs = 0
            else:
                bad_epochs += 1
            ckpt.save({"epoch": epoch, "best": best, "history": history, "run_id": mlrun.run_id,
                       "bad_epochs": bad_epochs}, gen, rng)
            if bad_epochs >= int(cfg["patience"]):
                log.info("early stop at epoch %d (best val UA %.3f at %d)", epoch, best["val/ua"], best["epoch"])
                break
        if "model" in best:
            model.load_state_dict(best["model"])
        scores = _predict(model, inputs, idx["test"], eval_batch, device)
        result = classification(y[idx["test"]], scores, labels_text, "test", data.scored)
        # test-time augmentation only where a clip has more than one view: for clips that fit
        # in one crop (or fixed vectors) its score would equal the plain one by construction
        with_views = inputs.distinct_views(idx["test"]) > 1
        result["tta/clips_with_views"] = float(with_views.mean())
        if with_views.any():
            result.update(classification(y[idx["test"]], _predict_tta(model, inputs, idx["test"], eval_batch, device),
                                         labels_text, "test_tta", data.scored))
        result.update({"labels": labels_text, "scored_labels": data.scored,
                       "best_epoch": best.get("epoch"), "val/ua": best["val/ua"],
                       "epochs_run": len(history), "protocol": protocol, "test_speakers": data.test_groups(),
                       "wall_s": round(time.time() - t0, 2), "device": device.type, "mlflow_run_id": mlrun.run_id})
        mlrun.metrics({k: v for k, v in result.items() if k.startswith("test/")})
        predict.save(paths.out / "model.pt", variant, labels_text, run_cfg, inputs.state(),
                     network=model, build_args=build_args)
        result["mlflow_model_uri"] = mlrun.model(paths.out / "model.pt")
        save_predictions(paths.out / "predictions.npz", manifest, y, idx, scores,
                         _predict(model, inputs, idx["val"], eval_batch, device))
        write_history(paths.out / HISTORY_FILE, history)
        write_json(paths.out / "metrics.json", result)
        mlrun.artifact(paths.out / "metrics.json")
        mlrun.figure(confusion_figure(result["test/confusion"], labels_text, f"{corpus} {variant} fold {fold}"),
                     "confusion.png")
    return result


HISTORY_FILE = "history.csv"  # one row per epoch: the learning curve `dvc plots` and the report draw


def write_history(path: Path, history: list[dict]) -> None:
    import pandas as pd

    table = pd.DataFrame(history).rename(columns=lambda c: c.replace("/", "_"))
    table.to_csv(path, index=False)


def save_predictions(path: Path, manifest, y: np.ndarray, idx: dict, test_scores: np.ndarray,
                     val_scores: np.ndarray) -> None:
    """Test and validation scores of the kept model (logits or probabilities): the validation
    ones let a late fusion pick its weights without looking at the test fold."""
    ids = manifest["item_id"].to_numpy().astype(str)
    np.savez(path, item_id=ids[idx["test"]], y=y[idx["test"]], scores=test_scores,
             val_item_id=ids[idx["val"]], val_y=y[idx["val"]], val_scores=val_scores)


def confusion_figure(matrix, labels, title: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(labels), 0.8 + 0.6 * len(labels)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted"); ax.set_ylabel("true"); ax.set_title(title)
    fig.tight_layout()
    return fig
