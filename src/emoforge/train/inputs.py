"""What a SER model reads, by the variant's `feature`: log-mel sequences or fixed vectors.

Each kind loads its features with the label columns, learns any normalisation from the
training rows only, and makes batches (with training-time augmentation where it has one).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..features.audio import trim_silence
from ..features.extract import load_logmel
from .common import COPIES_AS_ITEMS


def crop(mel: np.ndarray, frames: int, rng: np.random.Generator | None, where: float = 0.5) -> np.ndarray:
    """Random crop (training) or the crop at `where` (0 start .. 1 end), zero-padded to `frames`."""
    if len(mel) > frames:
        span = len(mel) - frames
        start = rng.integers(0, span + 1) if rng is not None else int(round(span * where))
        return mel[start:start + frames]
    out = np.zeros((frames, mel.shape[1]), dtype=np.float32)
    out[: len(mel)] = mel
    return out


def spec_augment(x: torch.Tensor, gen: torch.Generator, width_t: int = 30, width_f: int = 8) -> torch.Tensor:
    """One time and one frequency mask per example (Park et al. 2019)."""
    x = x.clone()
    for i in range(x.shape[0]):
        t0 = int(torch.randint(0, max(1, x.shape[1] - width_t), (1,), generator=gen))
        f0 = int(torch.randint(0, max(1, x.shape[2] - width_f), (1,), generator=gen))
        x[i, t0:t0 + int(torch.randint(0, width_t, (1,), generator=gen))] = 0
        x[i, :, f0:f0 + int(torch.randint(0, width_f, (1,), generator=gen))] = 0
    return x


def utterance_norm(mels: list[np.ndarray], speakers: np.ndarray) -> list[np.ndarray]:
    """Each clip minus its mean over its std: removes level and channel differences."""
    return [(m - m.mean()) / (m.std() + 1e-5) for m in mels]


def speaker_norm(mels: list[np.ndarray], speakers: np.ndarray) -> list[np.ndarray]:
    """Each mel band minus the speaker's mean over the speaker's std, over all of that speaker's
    frames. Uses no labels, so it is allowed on test speakers (as eGeMAPS' per-speaker z-scores):
    it takes away much of what makes one voice differ from another (vocal tract, pitch range)."""
    out: list[np.ndarray] = [None] * len(mels)  # type: ignore[list-item]
    for s in np.unique(speakers):
        rows = np.flatnonzero(speakers == s)
        frames = np.concatenate([mels[i] for i in rows])
        mu, sd = frames.mean(0), frames.std(0) + 1e-5
        for i in rows:
            out[i] = (mels[i] - mu) / sd
    return out


NORMS = {"utterance": utterance_norm, "speaker": speaker_norm}


class LogMelInputs:
    def __init__(self, feature_dir: Path, cfg: dict):
        self.manifest, mels = load_logmel(feature_dir)
        if cfg.get("trim_silence", True):
            mels = [trim_silence(m) for m in mels]
        norm = cfg.get("norm", "utterance")
        if norm not in NORMS:
            raise KeyError(f"unknown log-mel normalisation {norm!r}; known: {sorted(NORMS)}")
        self.data = NORMS[norm](mels, self.manifest["speaker"].to_numpy())
        self.frames = int(cfg["frames"])
        self.norm, self.trim = norm, bool(cfg.get("trim_silence", True))

    def state(self) -> dict:
        """What a model file needs to make these inputs from new recordings (emoforge.predict)."""
        return {"kind": "logmel", "norm": self.norm, "trim_silence": self.trim, "frames": self.frames}

    def dims(self) -> dict:
        return {"n_mels": self.data[0].shape[1]}

    def select(self, keep: np.ndarray) -> None:
        self.manifest = self.manifest[keep].reset_index(drop=True)
        self.data = [d for d, k in zip(self.data, keep) if k]

    def fit(self, train_idx: np.ndarray) -> None:
        pass

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None = None, where: float = 0.5) -> torch.Tensor:
        return torch.from_numpy(np.stack([crop(self.data[i], self.frames, rng, where) for i in idx]))

    def views(self, idx: np.ndarray, k: int = 5) -> list[torch.Tensor]:
        """Test-time augmentation: k crops spread from the start to the end of each clip."""
        return [self.batch(idx, where=j / (k - 1)) for j in range(k)]

    def distinct_views(self, idx: np.ndarray, k: int = 5) -> np.ndarray:
        """How many different crops each clip's views hold: 1 for a clip no longer than `frames`."""
        return np.array([min(k, max(1, len(self.data[i]) - self.frames + 1)) for i in idx])

    def augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return spec_augment(x, gen)


class VectorInputs:
    """One row of numbers per item (e.g. data/features/<corpus>/mfcc_stats.parquet).

    A file with a `copy` column holds augmented copies of each item (copy 0 is the item
    itself): training batches draw one copy per item at random, validation and test read
    copy 0. With `copies_as_items` every copy is an item of its own (R2's augment-then-split).
    """

    def __init__(self, feature_dir: Path, name: str, copies_as_items: bool = False):
        table = pd.read_parquet(feature_dir / f"{name}.parquet")
        cols = [c for c in table.columns if c.startswith(f"{name}_")]
        self.copies = None
        if "copy" in table.columns and not copies_as_items:
            k = int(table["copy"].max()) + 1
            if len(table) % k or not (table["copy"].to_numpy() == np.tile(np.arange(k), len(table) // k)).all():
                raise ValueError(f"{feature_dir / name}.parquet: copies are not stored item by item; re-extract it")
            self.copies = table[cols].to_numpy(np.float32).reshape(-1, k, len(cols))
            table = table[table["copy"] == 0].reset_index(drop=True)
        elif copies_as_items:
            if "copy" not in table.columns:
                raise ValueError(f"{name} has no augmented copies, so it cannot make copies into items "
                                 "(the augsplit protocol needs a feature such as r2_kaggle)")
            table["item_id"] = table["item_id"].astype(str) + "#copy" + table["copy"].astype(str)
        self.manifest = table.drop(columns=[*cols, "copy"], errors="ignore")
        self.data = table[cols].to_numpy(np.float32)
        self.name = name
        self.mu, self.sd = np.zeros(self.data.shape[1], np.float32), np.ones(self.data.shape[1], np.float32)

    def state(self) -> dict:
        return {"kind": "vector", "name": self.name, "norm": "train",
                "mu": torch.from_numpy(np.asarray(self.mu, np.float32)),
                "sd": torch.from_numpy(np.asarray(self.sd, np.float32))}

    def dims(self) -> dict:
        return {"n_features": self.data.shape[1]}

    def select(self, keep: np.ndarray) -> None:
        keep = np.asarray(keep)
        self.manifest = self.manifest[keep].reset_index(drop=True)
        self.data = self.data[keep]
        if self.copies is not None:
            self.copies = self.copies[keep]

    def fit(self, train_idx: np.ndarray) -> None:
        """z-score statistics from the training rows only (the test fold never leaks in), over
        every copy that training draws: a noisy copy's high mel bands sit far above the clip's."""
        rows = self.data[train_idx] if self.copies is None else self.copies[train_idx].reshape(-1, self.data.shape[1])
        self.mu = rows.mean(0)
        self.sd = rows.std(0) + 1e-6

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        x = self.data[idx]
        if rng is not None and self.copies is not None:  # training: a random copy of each item
            x = self.copies[idx, rng.integers(0, self.copies.shape[1], len(idx))]
        return torch.from_numpy((x - self.mu) / self.sd)

    def views(self, idx: np.ndarray, k: int = 5) -> list[torch.Tensor]:
        return [self.batch(idx)]

    def distinct_views(self, idx: np.ndarray, k: int = 5) -> np.ndarray:
        return np.ones(len(idx), dtype=int)

    def augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return x


def load_inputs(feature: str, feature_dir: Path, cfg: dict, protocol: str = "speaker"):
    copies_as_items = protocol in COPIES_AS_ITEMS
    if feature == "logmel":
        if copies_as_items:
            raise ValueError(f"protocol {protocol!r} needs a feature with augmented copies; log-mel has none")
        return LogMelInputs(feature_dir, cfg)
    return VectorInputs(feature_dir, feature, copies_as_items)
