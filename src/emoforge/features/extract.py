"""Corpus index -> feature files.

Log-mel sequences go into .npy shards (frames x mels, float16) with a Parquet manifest
(item_id, shard, start, frames + the index's label columns); fixed-length vectors (MFCC
statistics, openSMILE functionals, SSL embeddings) and face images go into Parquet / .npy
with the same label columns. Each vector is its own file, made by its own job, so that
adding a variant never recomputes the log-mel shards its neighbours were trained on.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from ..corpora import read_index
from ..corpora.base import item_path, partial_path, write_parquet_atomic
from .audio import VECTORS, MelConfig, load_audio
from .engine import chunked, log_mels

log = logging.getLogger(__name__)
LABEL_COLUMNS = ["item_id", "speaker", "gender", "emotion", "intensity", "sentence", "split_group"]
SHARD_FRAMES = 250_000  # 32 MB of float16 at 64 mels: the most a feature job holds
VECTOR_CHUNK = 256  # items per Parquet row group of a vector table


def _audio_items(index_path: Path) -> pd.DataFrame:
    index = read_index(index_path)
    index = index[index["modality"] == "audio"].reset_index(drop=True)
    if index.empty:
        raise ValueError(f"{index_path}: no usable audio items (all missing or quarantined)")
    return index


def _labels(index: pd.DataFrame) -> pd.DataFrame:
    extra = [c for c in ("repetition", "split", "valence", "arousal", "dominance") if c in index.columns]
    return index[LABEL_COLUMNS + extra].reset_index(drop=True)


def _worker_setup() -> None:
    """Workers already fill the cores: a BLAS pool of its own in each would oversubscribe them
    (mfcc_stats on 2 workers ran 2.8x slower than one plain loop until this). And a worker
    dies with its job: after a SIGKILL of the job, forked workers would otherwise wait on
    their queue forever."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
    die_with_parent()


def die_with_parent() -> None:
    """Linux: ask the kernel to SIGKILL this process when its parent ends (PR_SET_PDEATHSIG)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def map_files(work, paths, workers: int, desc: str, chunksize: int = 8):
    """work(path) over every file, in order, on `workers` processes, with a progress bar."""
    if workers <= 1:
        yield from tqdm(map(work, paths), total=len(paths), desc=desc, unit="file")
        return
    with ProcessPoolExecutor(workers, initializer=_worker_setup) as pool:
        yield from tqdm(pool.map(work, paths, chunksize=chunksize), total=len(paths), desc=desc, unit="file")


def _decode(rel: str, root: Path, sample_rate: int) -> np.ndarray:
    return load_audio(item_path(root, rel), sample_rate)


class ShardWriter:
    """Appends (frames, mels) arrays to .npy shards of at most SHARD_FRAMES frames; holds
    one shard in memory at most."""

    def __init__(self, shard_dir: Path):
        self.shard_dir = shard_dir
        self.buffer: list[np.ndarray] = []
        self.shard = 0
        self.start = 0

    def name(self) -> str:
        return f"shard_{self.shard:04d}.npy"

    def add(self, mel: np.ndarray) -> tuple[str, int, int]:
        if self.start + len(mel) > SHARD_FRAMES:
            self.flush()
        row = (self.name(), self.start, len(mel))
        self.buffer.append(mel)
        self.start += len(mel)
        return row

    def flush(self) -> None:
        if self.buffer:
            np.save(self.shard_dir / self.name(), np.concatenate(self.buffer))
            self.buffer, self.shard, self.start = [], self.shard + 1, 0


def extract_audio(index_path: Path, root: Path, out_dir: Path, cfg: MelConfig, workers: int = 1,
                  device: str | None = None) -> pd.DataFrame:
    """Log-mel shards + data/features/<corpus>/logmel.parquet, the manifest that says they
    are complete: it is removed first and written last."""
    index = _audio_items(index_path)
    manifest_path = out_dir / "logmel.parquet"
    manifest_path.unlink(missing_ok=True)
    shard_dir = out_dir / "logmel"
    shard_dir.mkdir(parents=True, exist_ok=True)
    for old in shard_dir.glob("shard_*.npy"):
        old.unlink()
    writer = ShardWriter(shard_dir)
    decode = partial(_decode, root=root, sample_rate=cfg.sample_rate)
    mels = log_mels(decode, index["path"], cfg, threads=workers, device=device)
    bar = tqdm(mels, total=len(index), desc=f"log-mel {index_path.stem}", unit="file")
    rows = [writer.add(mel) for mel in bar]
    writer.flush()
    placement = pd.DataFrame(rows, columns=["shard", "start", "frames"])
    manifest = pd.concat([_labels(index), placement], axis=1)
    write_parquet_atomic(manifest, manifest_path)
    return manifest


def _vectors(rel: str, root: Path, cfg: MelConfig, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    path = item_path(root, rel)
    audio = load_audio(path, cfg.sample_rate)
    return {k: VECTORS[k](path, audio, cfg) for k in names}


class VectorTable:
    """data/features/<corpus>/<name>.parquet, written a chunk of items at a time and put in
    place whole when closed. Items with (copies, values) get a row per copy, item-major, copy
    0 being the clip itself."""

    def __init__(self, path: Path, name: str, labels: pa.Table):
        self.path = path
        self.partial_path = partial_path(path)
        self.name = name
        self.labels = labels
        self.written = 0
        self.writer: pq.ParquetWriter | None = None

    def write(self, vectors: np.ndarray) -> None:
        items = np.arange(self.written, self.written + len(vectors))
        self.written += len(vectors)
        copies = vectors.shape[1] if vectors.ndim == 3 else 1
        table = self.labels.take(np.repeat(items, copies))
        if vectors.ndim == 3:
            table = table.append_column("copy", pa.array(np.tile(np.arange(copies), len(items))))
            vectors = vectors.reshape(-1, vectors.shape[2])
        names = table.column_names + [f"{self.name}_{i:03d}" for i in range(vectors.shape[1])]
        arrays = table.columns + [pa.array(vectors[:, i]) for i in range(vectors.shape[1])]
        table = pa.Table.from_arrays(arrays, names=names, metadata=self.labels.schema.metadata)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.partial_path, table.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()
        os.replace(self.partial_path, self.path)


def extract_vectors(index_path: Path, root: Path, out_dir: Path, cfg: MelConfig, vectors: tuple[str, ...],
                    workers: int = 1) -> None:
    """One fixed-length vector per item: data/features/<corpus>/<name>.parquet for each name."""
    unknown = set(vectors) - set(VECTORS)
    if unknown:
        raise KeyError(f"unknown feature vector(s) {sorted(unknown)}; known: {sorted(VECTORS)}")
    index = _audio_items(index_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = pa.Table.from_pandas(_labels(index), preserve_index=False)
    tables = {name: VectorTable(out_dir / f"{name}.parquet", name, labels) for name in vectors}
    work = partial(_vectors, root=root, cfg=cfg, names=tuple(vectors))
    per_item = map_files(work, index["path"], workers, f"{'+'.join(vectors)} {index_path.stem}")
    for chunk in chunked(per_item, VECTOR_CHUNK):
        for name, table in tables.items():
            table.write(np.stack([item[name] for item in chunk]))
    for table in tables.values():
        table.close()


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
    manifest_path = out_dir / "images.parquet"
    manifest_path.unlink(missing_ok=True)
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
    write_parquet_atomic(manifest, manifest_path)
    return manifest
