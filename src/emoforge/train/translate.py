"""Paired emotion translation on log-mel (R1): same speaker, same sentence and repetition,
source emotion -> every other emotion. Held-out speakers are the test set."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.fft import dct
from tqdm import tqdm

from .. import models, tracking
from ..features.audio import trim_silence
from ..features.extract import load_logmel
from .common import Checkpoint, begin, fold_split, snapshot, write_json

log = logging.getLogger(__name__)


def to_fixed(mel: np.ndarray, frames: int) -> np.ndarray:
    """(T, mels) -> (mels, frames) by linear resampling in time, so paired clips line up."""
    t = torch.from_numpy(np.ascontiguousarray(mel.T))[None]
    return F.interpolate(t, size=frames, mode="linear", align_corners=False)[0].numpy()


def make_pairs(manifest, source: str) -> list[tuple[int, int]]:
    keys = ["speaker", "sentence"] + (["repetition"] if "repetition" in manifest.columns else [])
    src = manifest[manifest["emotion"] == source]
    tgt = manifest[manifest["emotion"] != source]
    merged = src.reset_index().merge(tgt.reset_index(), on=keys, suffixes=("_s", "_t"))
    return list(zip(merged["index_s"], merged["index_t"]))


def mcd_db(a: np.ndarray, b: np.ndarray, n_coef: int = 13) -> float:
    """Mel-cepstral distortion between two (mels, T) natural-log mel power arrays, c1..c12."""
    ca = dct(a / 2, type=2, norm="ortho", axis=0)[1:n_coef]
    cb = dct(b / 2, type=2, norm="ortho", axis=0)[1:n_coef]
    return float(np.mean(10 / np.log(10) * np.sqrt(2 * ((ca - cb) ** 2).sum(0))))


def fit(cfg: dict, feature_dir: Path, out: Path, corpus: str, variant: str) -> dict:
    t0 = time.time()
    seed, _, device = begin(cfg)
    manifest, mels = load_logmel(feature_dir)
    emotions = sorted(manifest["emotion"].unique())
    source = cfg["source_emotion"]
    if source not in emotions:
        raise ValueError(f"source emotion {source!r} not in corpus {corpus} ({emotions})")
    pairs = make_pairs(manifest, source)
    if not pairs:
        raise ValueError(f"{corpus}: no same-speaker, same-sentence pairs from {source!r} to another emotion")
    frames = int(cfg["frames"])
    fixed = np.stack([to_fixed(trim_silence(m), frames) for m in mels])
    split = fold_split(manifest["split_group"].tolist(), int(cfg["folds"]), 0, seed)
    spk = manifest["speaker"].to_numpy()
    parts = {k: [p for p in pairs if spk[p[0]] in v] for k, v in split.items()}
    mu, sd = float(fixed[[i for p in parts["train"] for i in p]].mean()), float(fixed.std())
    norm = (fixed - mu) / sd
    emo_idx = {e: i for i, e in enumerate(emotions)}
    y = manifest["emotion"].map(emo_idx).to_numpy()

    def tensors(batch):
        s, t = zip(*batch)
        x = torch.from_numpy(norm[list(s)])[:, None].to(device)
        target = torch.from_numpy(norm[list(t)])[:, None].to(device)
        onehot = F.one_hot(torch.from_numpy(y[list(t)]), len(emotions)).float().to(device)
        return x, target, onehot

    G, D = models.get(variant, "translate").build(n_emotions=len(emotions), **cfg.get("model", {}).get(variant, {}))
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.AdamW(G.parameters(), lr=float(cfg["lr"]), betas=(0.5, 0.999), weight_decay=float(cfg["weight_decay"]))
    opt_d = torch.optim.AdamW(D.parameters(), lr=float(cfg["lr"]), betas=(0.5, 0.999), weight_decay=float(cfg["weight_decay"]))
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_g, factor=0.5, patience=2)
    bce = torch.nn.BCEWithLogitsLoss()
    l1w, smooth, d_every = float(cfg["l1_weight"]), float(cfg["label_smoothing"]), int(cfg["d_every"])
    use_amp = device.type == "cuda"

    run_cfg = {k: v for k, v in cfg.items() if k != "device"} | {"corpus": corpus, "variant": variant}
    ckpt = Checkpoint(out / "checkpoint.pt", run_cfg, G=G, D=D, opt_g=opt_g, opt_d=opt_d, sched=sched)
    rng = np.random.default_rng(seed)
    progress = ckpt.resume(device, rng) or {"epoch": -1, "history": [], "run_id": None,
                                            "best": {"val/l1": float("inf")}}
    start, history, best = progress["epoch"] + 1, progress["history"], progress["best"]
    batch = int(cfg["batch_size"])

    def l1_on(part):
        G.eval()
        with torch.no_grad():
            errs = [F.l1_loss(G(x, o), t, reduction="sum").item() / t[0].numel()
                    for x, t, o in (tensors(part[i:i + batch]) for i in range(0, len(part), batch))]
        return float(np.sum(errs) / max(len(part), 1))

    with tracking.run("translate", f"{corpus}/{variant}", run_cfg,
                      tags={"task": "translate", "corpus": corpus, "variant": variant, "device": device.type},
                      resume_id=progress["run_id"]) as mlrun:
        for epoch in tqdm(range(start, int(cfg["epochs"])), desc=f"translate {corpus}/{variant}", unit="epoch"):
            G.train(); D.train()
            order = rng.permutation(len(parts["train"]))
            sums = {"d": 0.0, "g_adv": 0.0, "g_l1": 0.0}
            steps = 0
            for b in range(0, len(order), batch):
                x, t, o = tensors([parts["train"][i] for i in order[b:b + batch]])
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    fake = G(x, o)
                    if steps % d_every == 0:  # asymmetric training: D steps less often than G
                        real_lbl = 1.0 - smooth * torch.rand(1, device=device)  # noisy one-sided smoothing
                        pr, pf = D(x, t, o), D(x, fake.detach(), o)
                        loss_d = bce(pr, torch.full_like(pr, float(real_lbl))) + bce(pf, torch.zeros_like(pf))
                        opt_d.zero_grad(set_to_none=True); loss_d.backward(); opt_d.step()
                        sums["d"] += loss_d.item()
                    pf = D(x, fake, o)
                    adv, l1 = bce(pf, torch.ones_like(pf)), F.l1_loss(fake, t)
                    loss_g = adv + l1w * l1
                opt_g.zero_grad(set_to_none=True); loss_g.backward(); opt_g.step()
                sums["g_adv"] += adv.item(); sums["g_l1"] += l1.item(); steps += 1
            val_l1 = l1_on(parts["val"])
            sched.step(val_l1)
            row = {"epoch": epoch, "train/d_loss": sums["d"] / max(1, steps // d_every),
                   "train/g_adv": sums["g_adv"] / steps, "train/g_l1": sums["g_l1"] / steps,
                   "val/l1": val_l1, "lr": opt_g.param_groups[0]["lr"]}
            history.append(row)
            mlrun.metrics(row, step=epoch)
            if val_l1 < best["val/l1"]:
                best = {"val/l1": val_l1, "epoch": epoch, "G": snapshot(G)}
            ckpt.save({"epoch": epoch, "history": history, "run_id": mlrun.run_id, "best": best}, rng)
        if "G" in best:
            G.load_state_dict(best["G"])
        G.eval()
        test = parts["test"]
        gen_all, mcd_gen, mcd_none = [], [], []
        with torch.no_grad():
            for i in range(0, len(test), batch):
                x, t, o = tensors(test[i:i + batch])
                gen_all.append(G(x, o).float().cpu().numpy()[:, 0] * sd + mu)
        gen_all = np.concatenate(gen_all) if gen_all else np.zeros((0,) + fixed.shape[1:])
        for (s, t), g in zip(test, gen_all):
            mcd_gen.append(mcd_db(g, fixed[t]))
            mcd_none.append(mcd_db(fixed[s], fixed[t]))
        result = {"test/l1": l1_on(test) * sd, "test/l1_no_conversion": float(np.mean([np.abs(fixed[s] - fixed[t]).mean() for s, t in test])),
                  "test/mcd_db": float(np.mean(mcd_gen)), "test/mcd_db_no_conversion": float(np.mean(mcd_none)),
                  "test/pairs": len(test), "train/pairs": len(parts["train"]), "source_emotion": source,
                  "best_epoch": best.get("epoch"), "epochs_run": len(history), "speakers": split, "emotions": emotions,
                  "wall_s": round(time.time() - t0, 2), "device": device.type, "mlflow_run_id": mlrun.run_id}
        mlrun.metrics({k: v for k, v in result.items() if k.startswith("test/")})
        out.mkdir(parents=True, exist_ok=True)
        torch.save({"G": G.state_dict(), "emotions": emotions, "mu": mu, "sd": sd, "config": run_cfg}, out / "generator.pt")
        k = next((i for i, (_, t) in enumerate(test) if emotions[y[t]] == cfg.get("example_emotion", "angry")), 0)
        s, t = test[k]
        np.savez(out / "example.npz", source=fixed[s], generated=gen_all[k], target=fixed[t],
                 source_id=manifest.at[s, "item_id"], target_id=manifest.at[t, "item_id"],
                 target_emotion=emotions[y[t]])
        write_json(out / "metrics.json", result)
        mlrun.artifact(out / "metrics.json")
        mlrun.artifact(out / "example.npz")
    return result
