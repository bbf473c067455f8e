"""What a SER model reads, by the variant's `feature`: log-mel sequences or fixed vectors.

Each kind loads its features with the label columns, learns any normalisation from the
training rows only, and makes batches (with training-time augmentation where it has one).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..features.audio import trim_silence
from ..features.extract import load_logmel
from .common import split_items, validation_trained

log = logging.getLogger(__name__)


def crop(mel: np.ndarray, frames: int, rng: np.random.Generator | None, where: float = 0.5) -> np.ndarray:
    """Random crop (training) or the crop at `where` (0 start .. 1 end), zero-padded to `frames`."""
    if len(mel) > frames:
        span = len(mel) - frames
        start = rng.integers(0, span + 1) if rng is not None else int(round(span * where))
        return mel[start:start + frames]
    out = np.zeros((frames, mel.shape[1]), dtype=np.float32)
    out[: len(mel)] = mel
    return out


def pad_batch(mels: list[np.ndarray]) -> np.ndarray:
    """Whole clips in one batch, zero-padded at the end to the longest (models that read whole
    clips take all-zero frames as padding)."""
    out = np.zeros((len(mels), max(len(m) for m in mels), mels[0].shape[1]), dtype=np.float32)
    for row, mel in zip(out, mels):
        row[: len(mel)] = mel
    return out


def spec_augment(x: torch.Tensor, gen: torch.Generator, width_t: int = 30, width_f: int = 8,
                 masks: int = 1) -> torch.Tensor:
    """`masks` time and `masks` frequency masks per example (Park et al. 2019)."""
    x = x.clone()
    for i in range(x.shape[0]):
        for _ in range(masks):
            t0 = int(torch.randint(0, max(1, x.shape[1] - width_t), (1,), generator=gen))
            f0 = int(torch.randint(0, max(1, x.shape[2] - width_f), (1,), generator=gen))
            x[i, t0:t0 + int(torch.randint(0, width_t, (1,), generator=gen))] = 0
            x[i, :, f0:f0 + int(torch.randint(0, width_f, (1,), generator=gen))] = 0
    return x


def freq_warp(x: torch.Tensor, gen: torch.Generator, amount: float) -> torch.Tensor:
    """Each example's mel axis stretched by a random factor in [1 - amount, 1 + amount], cut or
    zero-padded at the top (vocal tract length perturbation on the spectrogram, after Jaitly and
    Hinton 2013): a voice with a longer or shorter vocal tract saying the same thing."""
    if amount <= 0:
        return x
    bands = x.shape[2]
    out = torch.zeros_like(x)
    factors = 1 + amount * (2 * torch.rand(x.shape[0], generator=gen) - 1)
    for i, factor in enumerate(factors.tolist()):
        width = max(1, round(bands * factor))
        warped = torch.nn.functional.interpolate(x[i][None, None], size=(x.shape[1], width),
                                                 mode="bilinear", align_corners=False)[0, 0]
        out[i, :, :min(width, bands)] = warped[:, :bands]
    return out


def resize_image(mel: np.ndarray, size: int) -> np.ndarray:
    """The whole clip as a size x size image, time stretched or squeezed (bilinear), as R4 did."""
    pixels = torch.from_numpy(np.ascontiguousarray(mel, np.float32))[None, None]
    image = torch.nn.functional.interpolate(pixels, size=(size, size), mode="bilinear", align_corners=False)
    return image[0, 0].numpy()


def db_max_norm(mels: list[np.ndarray], speakers: np.ndarray) -> list[np.ndarray]:
    """Each clip in dB below its loudest bin, floored at -80 dB, scaled to 0..1 (R4's images)."""
    db_per_neper = 10 / np.log(10)  # the shards hold natural-log power
    return [np.maximum(db_per_neper * (m - m.max()), -80.0) / 80.0 + 1.0 for m in mels]


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


NORMS = {"utterance": utterance_norm, "speaker": speaker_norm, "db_max": db_max_norm}


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
        self.resize = cfg.get("resize")  # an int: whole clips as square images instead of crops
        self.inference = cfg.get("inference", "crop")  # whole: evaluate whole clips, not crops
        if self.inference not in ("crop", "whole"):
            raise ValueError(f"unknown inference {self.inference!r}; known: crop, whole")
        self.norm, self.trim = norm, bool(cfg.get("trim_silence", True))
        self.masks = int(cfg.get("spec_masks", 1))
        self.warp = float(cfg.get("freq_warp", 0.0))

    def state(self) -> dict:
        """What a model file needs to make these inputs from new recordings (emoforge.predict)."""
        return {"kind": "logmel", "norm": self.norm, "trim_silence": self.trim, "frames": self.frames,
                "resize": self.resize, "inference": self.inference}

    def dims(self) -> dict:
        return {"n_mels": self.data[0].shape[1]}

    def select(self, keep: np.ndarray) -> None:
        self.manifest = self.manifest[keep].reset_index(drop=True)
        self.data = [d for d, k in zip(self.data, keep) if k]

    def extend(self, other: "LogMelInputs") -> None:
        self.manifest = pd.concat([self.manifest, other.manifest], ignore_index=True)
        self.data = self.data + other.data

    @property
    def complete(self) -> np.ndarray:
        """Every log-mel clip is whole (only fixed vectors can have values a recipe could not make)."""
        return np.ones(len(self.data), dtype=bool)

    def fit(self, train_idx: np.ndarray) -> None:
        pass

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None = None, where: float = 0.5) -> torch.Tensor:
        if self.resize:
            return torch.from_numpy(np.stack([resize_image(self.data[i], int(self.resize)) for i in idx]))
        if rng is None and self.inference == "whole":
            return torch.from_numpy(pad_batch([self.data[i] for i in idx]))
        return torch.from_numpy(np.stack([crop(self.data[i], self.frames, rng, where) for i in idx]))

    def views(self, idx: np.ndarray, k: int = 5) -> list[torch.Tensor]:
        """Test-time augmentation: k crops spread from the start to the end of each clip."""
        return [self.batch(idx, where=j / (k - 1)) for j in range(1 if self.one_view else k)]

    @property
    def one_view(self) -> bool:
        """Whole-clip images and whole-clip inference see each clip once."""
        return bool(self.resize) or self.inference == "whole"

    def distinct_views(self, idx: np.ndarray, k: int = 5) -> np.ndarray:
        """How many different crops each clip's views hold: 1 for a clip no longer than `frames`
        (and for whole-clip images)."""
        if self.one_view:
            return np.ones(len(idx), dtype=int)
        return np.array([min(k, max(1, len(self.data[i]) - self.frames + 1)) for i in idx])

    def augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return spec_augment(freq_warp(x, gen, self.warp), gen, masks=self.masks)


class VectorInputs:
    """One row of numbers per item (e.g. data/features/<corpus>/mfcc_stats.parquet). NaN marks
    values a recipe could not make (R3's frames past the end of a short clip): such a row is
    incomplete, and its NaN read as 0."""

    def __init__(self, feature_dir: Path, name: str, scale: str = "zscore"):
        if scale not in ("zscore", "none"):
            raise ValueError(f"unknown vector scaling {scale!r}; known: zscore, none")
        self.scale = scale
        table = pd.read_parquet(feature_dir / f"{name}.parquet")
        cols = [c for c in table.columns if c.startswith(f"{name}_")]
        self.manifest = table.drop(columns=cols)
        data = table[cols].to_numpy(np.float32)
        self.complete = ~np.isnan(data).any(1)
        self.data = np.nan_to_num(data)
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
        self.data, self.complete = self.data[keep], self.complete[keep]

    def extend(self, other: "VectorInputs") -> None:
        self.manifest = pd.concat([self.manifest, other.manifest], ignore_index=True)
        self.data = np.concatenate([self.data, other.data])
        self.complete = np.concatenate([self.complete, other.complete])

    def fit(self, train_idx: np.ndarray) -> None:
        """z-score statistics from the training rows only (the test fold never leaks in), unless
        `scale: none` (R2 fed its values raw)."""
        if self.scale == "zscore":
            self.mu = self.data[train_idx].mean(0)
            self.sd = self.data[train_idx].std(0) + 1e-6

    def batch(self, idx: np.ndarray, rng: np.random.Generator | None = None) -> torch.Tensor:
        return torch.from_numpy((self.data[idx] - self.mu) / self.sd)

    def views(self, idx: np.ndarray, k: int = 5) -> list[torch.Tensor]:
        return [self.batch(idx)]

    def distinct_views(self, idx: np.ndarray, k: int = 5) -> np.ndarray:
        return np.ones(len(idx), dtype=int)

    def augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return x


def load_inputs(feature: str, feature_dir: Path, cfg: dict):
    if feature == "logmel":
        return LogMelInputs(feature_dir, cfg)
    return VectorInputs(feature_dir, feature, cfg.get("scale", "zscore"))


@dataclass
class Fold:
    """One fold's rows: the inputs, the class names, each row's class index, which rows
    train, validate and test, and the classes a test prediction may take (cross-corpus with
    `train_labels: all`, only those the test corpus has; else all)."""
    inputs: LogMelInputs | VectorInputs
    labels: list[str]
    y: np.ndarray
    idx: dict[str, np.ndarray]
    scored: list[str]

    def test_groups(self) -> list[str]:
        return sorted(self.inputs.manifest["split_group"].iloc[self.idx["test"]].unique().tolist())


def add_test_corpus(inputs, feature: str, cfg: dict) -> None:
    """The cross protocol: the test corpus's rows appended to the training corpus's, both
    mapped through `cross.label_map`. The test rows keep the emotions that both sides have;
    the training rows too, or, with `cross.train_labels: all` (R4's protocol), every emotion of
    theirs, and the test then leaves the others' columns out. `cross.drop_emotions` are left
    out on both sides. Speakers are prefixed with the test corpus's name, so no speaker is on
    both sides by name."""
    cross = cfg.get("cross") or {}
    if "test_corpus" not in cross:
        raise ValueError("the cross protocol needs cross.test_corpus and cross.test_features in the config")
    other = load_inputs(feature, Path(cross["test_features"]), cfg)
    label_map = cross.get("label_map", {})
    inputs.manifest["side"] = "train"
    other.manifest["side"] = "test"
    for column in ("speaker", "split_group", "item_id"):
        other.manifest[column] = f"{cross['test_corpus']}:" + other.manifest[column].astype(str)
    inputs.extend(other)
    inputs.manifest["emotion"] = inputs.manifest["emotion"].replace(label_map)
    side = inputs.manifest["side"]
    emotions = {s: set(inputs.manifest.loc[side == s, "emotion"]) for s in ("train", "test")}
    dropped = set(cfg.get("drop_emotions", [])) | set(cross.get("drop_emotions", []))
    shared = emotions["train"] & emotions["test"] - dropped
    if len(shared) < 2:
        raise ValueError(f"cross protocol: the corpora share {sorted(shared)} after the label map "
                         f"{label_map}; need two emotions or more")
    trained = TRAIN_LABELS[cross.get("train_labels", "shared")](emotions["train"] - dropped, shared)
    emotion = inputs.manifest["emotion"]
    inputs.select(np.where(side == "train", emotion.isin(trained), emotion.isin(shared)))


# which emotions the training corpus's rows keep: (its emotions, those both corpora have) -> kept
TRAIN_LABELS = {"shared": lambda own, shared: shared, "all": lambda own, shared: own}


def prepare_fold(feature: str, feature_dir: Path, cfg: dict, protocol: str, fold: int, seed: int) -> Fold:
    inputs = load_inputs(feature, feature_dir, cfg)
    if protocol == "cross":
        add_test_corpus(inputs, feature, cfg)
    keep = ~inputs.manifest["emotion"].isin(cfg.get("drop_emotions", [])).to_numpy()
    if cfg.get("incomplete", "zero") == "drop":  # R3: clips too short for its vector are left out
        log.info("%s: %d of %d items are incomplete and left out", feature, (~inputs.complete).sum(),
                 len(keep))
        keep &= inputs.complete
    inputs.select(keep)
    labels = sorted(inputs.manifest["emotion"].unique())
    y = inputs.manifest["emotion"].map({e: i for i, e in enumerate(labels)}).to_numpy(np.int64)
    idx = split_items(inputs.manifest, protocol, cfg["folds"], fold, seed)
    if cfg.get("train_on_val", False):
        idx = validation_trained(idx)
    inputs.fit(idx["train"])
    scored = labels
    if protocol == "cross":
        scored = sorted(inputs.manifest.loc[inputs.manifest["side"] == "test", "emotion"].unique())
    return Fold(inputs, labels, y, idx, scored)
