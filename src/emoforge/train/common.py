"""What every fit loop shares: device, seeding, speaker folds, resumable checkpoints."""
from __future__ import annotations

import hashlib
import json
import logging
import pickle
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)


def pick_device(want: str = "auto") -> torch.device:
    if want == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if want.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {want!r} asked for, but PyTorch sees no CUDA GPU")
    return torch.device(want)


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


def begin(cfg: dict, offset: int = 0) -> tuple[int, torch.Generator, torch.device]:
    """The seed, a seeded generator and the device: how every fit loop begins."""
    seed = int(cfg.get("seed", 0))
    return seed, seed_everything(seed + offset), pick_device(cfg.get("device", "auto"))


def snapshot(module: torch.nn.Module) -> dict:
    """A copy of the weights: state_dict() alone shares storage with the live parameters,
    so a 'best' kept that way would follow every later update."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def averaged(module: torch.nn.Module, decay: float):
    """An exponential moving average of `module`'s weights and buffers (update it after each
    optimiser step), or None when `decay` is 0: the weights a fit loop scores and keeps."""
    if not decay:
        return None
    return torch.optim.swa_utils.AveragedModel(
        module, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(float(decay)), use_buffers=True)


def speaker_folds(groups: list[str], n_folds: int, seed: int) -> list[list[str]]:
    """Split the sorted distinct groups into n_folds seeded, near-equal groups of speakers."""
    uniq = sorted(set(groups))
    if n_folds < 2 or n_folds > len(uniq):
        raise ValueError(f"need 2..{len(uniq)} folds for {len(uniq)} speakers, got {n_folds}")
    order = np.random.default_rng(seed).permutation(len(uniq))
    return [sorted(uniq[i] for i in order[k::n_folds]) for k in range(n_folds)]


def fold_split(groups: list[str], n_folds: int, fold: int, seed: int) -> dict[str, list[str]]:
    """Test = fold `fold`; validation = the next fold's speakers (carved from the training side)."""
    folds = speaker_folds(groups, n_folds, seed)
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold {fold} outside 0..{n_folds - 1}")
    test, val = folds[fold], folds[(fold + 1) % n_folds]
    train = [g for k, f in enumerate(folds) if k not in (fold, (fold + 1) % n_folds) for g in f]
    return {"train": train, "val": val, "test": test}


def _speaker_protocol(manifest, n_folds: int, fold: int, seed: int) -> dict[str, np.ndarray]:
    split = fold_split(manifest["split_group"].tolist(), n_folds, fold, seed)
    return {k: np.flatnonzero(manifest["split_group"].isin(v).to_numpy()) for k, v in split.items()}


def _random_protocol(manifest, n_folds: int, fold: int, seed: int) -> dict[str, np.ndarray]:
    """Items shuffled into folds regardless of speaker: speakers leak across."""
    parts = np.array_split(np.random.default_rng(seed).permutation(len(manifest)), n_folds)
    val = (fold + 1) % n_folds
    train = np.concatenate([p for k, p in enumerate(parts) if k not in (fold, val)])
    return {"train": np.sort(train), "val": np.sort(parts[val]), "test": np.sort(parts[fold])}


def holdout(manifest, test_size: float, val_size: float, stratify: bool,
            random_state: int) -> dict[str, np.ndarray]:
    """A reference's single random split (scikit-learn's train_test_split), then `val_size` of
    the training part for validation; val_size 0 leaves no validation rows, and the fit loop
    keeps its last epoch, as the references did."""
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(manifest))
    y = manifest["emotion"].to_numpy()
    train, test = train_test_split(positions, test_size=test_size, random_state=random_state,
                                   stratify=y if stratify else None)
    val = np.array([], dtype=np.int64)
    if val_size:
        train, val = train_test_split(train, test_size=val_size, random_state=random_state,
                                      stratify=y[train] if stratify else None)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def _cross_protocol(manifest, n_folds: int, fold: int, seed: int) -> dict[str, np.ndarray]:
    """Train on one corpus, test on all of another (rows whose `side` is "test"): validation is
    one speaker fold of the training corpus, and nothing of the test corpus is seen in training."""
    on_test_side = (manifest["side"] == "test").to_numpy()
    groups = manifest["split_group"].to_numpy()
    folds = speaker_folds(groups[~on_test_side].tolist(), n_folds, seed)
    val = ~on_test_side & np.isin(groups, folds[fold % n_folds])
    return {"train": np.flatnonzero(~on_test_side & ~val), "val": np.flatnonzero(val),
            "test": np.flatnonzero(on_test_side)}


@dataclass(frozen=True)
class Protocol:
    title: str  # how tables name it
    split: Callable  # (manifest, n_folds, fold, seed) -> positions of train, val and test rows


# Fold k of a holdout protocol is the reference's split with random_state k (R3's own is 0).
PROTOCOLS = {
    "speaker": Protocol("speaker-independent", _speaker_protocol),
    "random": Protocol("random split (speakers shared)", _random_protocol),
    "r2split": Protocol("R2's stratified random 70/30 split (speakers shared)",
                        lambda m, n, fold, seed: holdout(m, 0.3, 0.0, True, fold)),
    "r3split": Protocol("R3's random 90/10 split (speakers shared)",
                        lambda m, n, fold, seed: holdout(m, 0.1, 0.0, False, fold)),
    "cross": Protocol("cross-corpus", _cross_protocol),
}


def protocol_title(folder: str) -> str:
    """A protocol folder's name as tables print it: `cross-<corpus>` names its test corpus."""
    name, _, test_corpus = folder.partition("-")
    return PROTOCOLS[name].title + (f" to {test_corpus}" if test_corpus else "")


def fold_count(manifest, folds: int | str) -> int:
    """`folds` as a number: `loso` (leave one speaker out) is one fold per speaker."""
    return manifest["split_group"].nunique() if folds == "loso" else int(folds)


def split_items(manifest, protocol: str, folds: int | str, fold: int, seed: int) -> dict[str, np.ndarray]:
    if protocol not in PROTOCOLS:
        raise KeyError(f"unknown protocol {protocol!r}; known: {sorted(PROTOCOLS)}")
    training_side = manifest[manifest["side"] == "train"] if "side" in manifest else manifest
    return PROTOCOLS[protocol].split(manifest, fold_count(training_side, folds), fold, seed)


def validation_trained(idx: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The split with its validation rows moved into training, as `train_on_val` asks: more
    speakers to learn from, and no validation, so the fit loop keeps its last epoch."""
    return {"train": np.sort(np.concatenate([idx["train"], idx["val"]])), "val": idx["val"][:0],
            "test": idx["test"]}


def config_hash(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:16]


def load_state(path: Path, map_location="cpu") -> dict:
    """A checkpoint or model file, read as tensors and plain types only: files arrive from shared
    DVC remotes and other people's runs, and unpickling arbitrary objects can run their code."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        why = next((line.strip() for line in str(e).splitlines() if "Unsupported" in line), "")
        raise ValueError(f"refusing to load {path}: it holds Python objects other than tensors and plain "
                         f"types, which could run code when loaded ({why[:200]}). If it is yours from an "
                         "older emoforge, delete it and train again.") from None


# How long to train may change between an interruption and its resume; nothing else may.
LENGTH_KEYS = {"epochs", "patience", "device"}


def rng_states(*generators) -> dict:
    """Every random stream a fit loop draws from, as tensors and plain types (a checkpoint is
    loaded with weights_only=True): the global torch, CUDA, NumPy and Python streams (dropout
    draws from torch's) and the loop's own torch / NumPy generators, in order."""
    legacy = np.random.get_state()
    python_version, python_state, python_gauss = random.getstate()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [legacy[0], torch.from_numpy(legacy[1].astype(np.int64)), *map(_plain, legacy[2:])],
            "python": [python_version, list(python_state), python_gauss],
            "generators": [g.get_state() if isinstance(g, torch.Generator) else g.bit_generator.state
                           for g in generators]}


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def restore_rng(states: dict, *generators) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    name, keys, *rest = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, python_state, gauss = states["python"]
    random.setstate((version, tuple(python_state), gauss))
    for g, state in zip(generators, states["generators"]):
        if isinstance(g, torch.Generator):
            g.set_state(state)
        else:
            g.bit_generator.state = state


class Checkpoint:
    """Saved every epoch; resumed when the config matches, set aside (loudly) when not.

    `parts` are the objects with a state_dict (modules, optimisers, schedulers, scalers); a part
    given as None (an average that is switched off) is left out. save() stores them with the
    loop's progress and every RNG state, resume() puts all of it back, so that a job killed
    anywhere ends with the numbers of one that never stopped."""

    def __init__(self, path: Path, cfg: dict, **parts):
        self.path, self.hash = path, config_hash({k: v for k, v in cfg.items() if k not in LENGTH_KEYS})
        self.parts = {name: part for name, part in parts.items() if part is not None}

    def load(self, map_location) -> dict | None:
        if not self.path.exists():
            return None
        state = load_state(self.path, map_location)
        why = None
        if "progress" not in state:
            why = "by an older emoforge, without RNG states"
        elif state.get("config_hash") != self.hash:
            why = "with another config"
        if why:
            stale = self.path.with_name(f"{self.path.stem}.stale-{state.get('config_hash')}.pt")
            self.path.replace(stale)
            log.warning("checkpoint %s was made %s; kept as %s, training from scratch",
                        self.path, why, stale.name)
            return None
        log.warning("resuming from %s at epoch %d", self.path, state["progress"]["epoch"] + 1)
        return state

    def resume(self, map_location, *generators) -> dict | None:
        """The saved progress (epoch, history, ...) with parts and RNGs restored, or None."""
        state = self.load(map_location)
        if state is None:
            return None
        for name, part in self.parts.items():
            if state["parts"][name]:  # a GradScaler saved on CPU is empty, and stays off
                part.load_state_dict(state["parts"][name])
        restore_rng(state["rng"], *generators)
        return state["progress"]

    def save(self, progress: dict, *generators) -> None:
        state = {"parts": {name: part.state_dict() for name, part in self.parts.items()},
                 "progress": progress, "rng": rng_states(*generators), "config_hash": self.hash}
        save_atomic(state, self.path)


def save_atomic(state: dict, path: Path) -> None:
    """torch.save to a temporary file put in place whole: a job killed while saving leaves the
    previous file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True))
    tmp.replace(path)
