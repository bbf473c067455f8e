"""Corpus index -> feature files.

Log-mel sequences go into .npy shards (frames x mels, float16) with a Parquet manifest
(item_id, shard, start, frames + the index's label columns); fixed-length vectors (MFCC
statistics, openSMILE functionals, SSL embeddings) and face images go into Parquet / .npy
with the same label columns. Each vector is its own file, made by its own job, so that
adding a variant never recomputes the log-mel shards its neighbours were trained on.
"""
from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..corpora import read_index
from ..corpora.base import item_path
from .audio import VECTORS, MelConfig, load_audio, log_mel

log = logging.getLogger(__name__)
LABEL_COLUMNS = ["item_id", "speaker", "gender", "emotion", "intensity", "sentence", "split_group"]
SHARD_FRAMES = 2_000_000  # ~256 MB of float16 at 64 mels


def _audio_items(index_path: Path) -> pd.DataFrame:
    index = read_index(index_path)
    index = index[index["modality"] == "audio"].reset_index(drop=True)
    if index.empty:
        raise ValueError(f"{index_path}: no usable audio items (all missing or quarantined)")
    return index


def _labels(index: pd.DataFrame) -> pd.DataFrame:
    extra = [c for c in ("repetition", "split", "valence", "arousal", "dominance") if c in index.columns]
    return index[LABEL_COLUMNS + extra].reset_index(drop=True)


def map_files(work, paths, workers: int, desc: str, chunksize: int = 8):
    """work(path) over every file, in order, on `workers` processes, with a progress bar."""
    if workers <= 1:
        yield from tqdm(map(work, paths), total=len(paths), desc=desc, unit="file")
        return
    with ProcessPoolExecutor(workers) as pool:
        yield from tqdm(pool.map(work, paths, chunksize=chunksize), total=len(paths), desc=desc, unit="file")


def _mel(rel: str, root: Path, cfg: MelConfig) -> np.ndarray:
    return log_mel(load_audio(item_path(root, rel), cfg.sample_rate), cfg).astype(np.float16)


def extract_audio(index_path: Path, root: Path, out_dir: Path, cfg: MelConfig, workers: int = 1) -> pd.DataFrame:
    """Log-mel shards + data/features/<corpus>/logmel.parquet."""
    index = _audio_items(index_path)
    shard_dir = out_dir / "logmel"
    shard_dir.mkdir(parents=True, exist_ok=True)
    for old in shard_dir.glob("shard_*.npy"):
        old.unlink()
    rows, buf, shard, start = [], [], 0, 0

    def flush():
        nonlocal buf, shard, start
        if buf:
            np.save(shard_dir / f"shard_{shard:04d}.npy", np.concatenate(buf))
            buf, shard, start = [], shard + 1, 0

    for mel in map_files(partial(_mel, root=root, cfg=cfg), index["path"], workers, f"log-mel {index_path.stem}"):
        if start + len(mel) > SHARD_FRAMES:
            flush()
        rows.append((f"shard_{shard:04d}.npy", start, len(mel)))
        buf.append(mel)
        start += len(mel)
    flush()
    manifest = pd.concat([_labels(index), pd.DataFrame(rows, columns=["shard", "start", "frames"])], axis=1)
    manifest.to_parquet(out_dir / "logmel.parquet", index=False)
    return manifest


def _vectors(rel: str, root: Path, cfg: MelConfig, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    path = item_path(root, rel)
    audio = load_audio(path, cfg.sample_rate)
    return {k: VECTORS[k](path, audio, cfg) for k in names}


def extract_vectors(index_path: Path, root: Path, out_dir: Path, cfg: MelConfig, vectors: tuple[str, ...],
                    workers: int = 1) -> None:
    """One fixed-length vector per item: data/features/<corpus>/<name>.parquet for each name."""
    unknown = set(vectors) - set(VECTORS)
    if unknown:
        raise KeyError(f"unknown feature vector(s) {sorted(unknown)}; known: {sorted(VECTORS)}")
    index = _audio_items(index_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = partial(_vectors, root=root, cfg=cfg, names=tuple(vectors))
    per_item = list(map_files(work, index["path"], workers, f"{'+'.join(vectors)} {index_path.stem}"))
    item_labels = _labels(index)
    for name in vectors:
        vec = np.stack([v[name] for v in per_item])
        labels = item_labels
        if vec.ndim == 3:  # (items, copies, values): a row per copy, item-major, copy 0 = the clip itself
            labels = labels.loc[labels.index.repeat(vec.shape[1])].reset_index(drop=True)
            labels["copy"] = np.tile(np.arange(vec.shape[1]), len(index))
            vec = vec.reshape(-1, vec.shape[2])
        table = pd.DataFrame(vec, columns=[f"{name}_{i:03d}" for i in range(vec.shape[1])])
        pd.concat([labels, table], axis=1).to_parquet(out_dir / f"{name}.parquet", index=False)


def load_logmel(feature_dir: Path) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """The manifest and one (frames, mels) float32 array per row, read through memory maps."""
    manifest = pd.read_parquet(feature_dir / "logmel.parquet")
    shards = {s: np.load(feature_dir / "logmel" / s, mmap_mode="r") for s in manifest["shard"].unique()}
    mels = [np.asarray(shards[s][a:a + n], dtype=np.float32)
            for s, a, n in zip(manifest["shard"], manifest["start"], manifest["frames"])]
    return manifest, mels


def extract_images(index_path: Path, root: Path, out_dir: Path) -> pd.DataFrame:
    from ..corpora.fer2013 import find_csv, load_csv_rows, load_image

    index = read_index(index_path)
    if index.empty:
        raise ValueError(f"{index_path}: no usable images (all missing or quarantined)")
    out_dir.mkdir(parents=True, exist_ok=True)
    images = np.zeros((len(index), 48, 48), dtype=np.uint8)
    in_csv = index["path"].str.contains("#row=", regex=False)
    if in_csv.any():
        rows = load_csv_rows(find_csv(root), set(index.loc[in_csv, "row"].astype(int)))
        for i in np.flatnonzero(in_csv):
            images[i] = rows[int(index.at[i, "row"])]
    for i in tqdm(np.flatnonzero(~in_csv), desc=f"features {index_path.stem}", unit="img"):
        images[i] = load_image(root, index.at[i, "path"])
    np.save(out_dir / "images.npy", images)
    manifest = _labels(index)
    manifest.to_parquet(out_dir / "images.parquet", index=False)
    return manifest
