"""The index contract shared by every corpus, and the checks that quarantine bad files."""
from __future__ import annotations

import errno
import logging
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable


if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

INDEX_COLUMNS = {
    "item_id": "string", "corpus": "string", "path": "string", "modality": "string",
    "speaker": "string", "gender": "string", "emotion": "string", "raw_label": "string",
    "intensity": "string", "sentence": "string", "split_group": "string",
    "duration": "float64", "sample_rate": "Int64", "channels": "Int64",
    "status": "string", "problem": "string",
}
AUDIO_SUFFIXES = {".wav", ".flac"}
MIN_DURATION_S = 0.2


@dataclass
class Item:
    """One row of data/index/<corpus>.parquet."""
    item_id: str
    corpus: str
    path: str
    modality: str
    speaker: str | None = None
    gender: str | None = None
    emotion: str | None = None
    raw_label: str | None = None
    intensity: str | None = None
    sentence: str | None = None
    split_group: str | None = None
    duration: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    status: str = "ok"
    problem: str | None = None
    extra: dict = field(default_factory=dict)

    def quarantine(self, problem: str) -> "Item":
        self.status, self.problem = "quarantined", problem
        return self


@dataclass
class Corpus:
    """A registry row: how to get a corpus and how to index it."""
    name: str
    modality: str  # "audio" or "image"
    index: Callable[[Path, dict], list[Item]]
    description: str = ""
    download: Callable[[Path, dict], None] | None = None
    # default evaluation: how many speaker folds (0 = one fold per split group)
    default_folds: int = 5
    licence: str = ""
    how_to_get: str = ""  # said when there is no download and no user copy
    # the params keys of this corpus type beyond COMMON_KEYS: key -> what to give (for errors)
    options: dict[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()


# Keys every corpus entry may have in params.yaml (corpora.<name>.<key>)
COMMON_KEYS = {
    "enabled": "true or false",
    "type": "the corpus type (registry row); by default the entry's own name",
    "path": "your copy of the corpus (a folder); null to download it",
    "url": "a mirror of the corpus archive (with sha256 or md5)",
    "sha256": "the SHA-256 of the archive at url",
    "md5": "the MD5 of the archive at url",
    "filename": "the archive's file name, when the url does not end in it",
    "seed": "set by the workflow from the top-level seed",
    "folds": "speaker folds for SER: an integer, or loso (leave one speaker out); default: the corpus's own",
}


def item_path(root: Path, path: str) -> Path:
    """Where an index row's file is: `path` relative to the corpus folder, or absolute.
    Every stage after the index reads files through this one function."""
    return Path(root) / path


def to_frame(items: Iterable[Item]) -> pd.DataFrame:
    # pandas and numpy load where they are used: the workflow imports this module to parse
    import pandas as pd

    rows = []
    for it in items:
        row = {k: getattr(it, k) for k in INDEX_COLUMNS}
        row.update(it.extra)
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(INDEX_COLUMNS) + sorted({k for r in rows for k in r} - set(INDEX_COLUMNS)))
    for col, dtype in INDEX_COLUMNS.items():
        df[col] = df[col].astype(dtype)
    if df["item_id"].duplicated().any():
        dup = df.loc[df["item_id"].duplicated(), "item_id"].iloc[0]
        raise ValueError(f"duplicate item id {dup!r} in corpus index")
    return df.sort_values("item_id").reset_index(drop=True)


def partial_path(path: Path) -> Path:
    """Where a file is written before it is put in place whole."""
    return path.with_name(f".{path.name}.partial")


def write_parquet_atomic(table: pd.DataFrame, path: Path) -> None:
    """A Parquet file that either is complete or is not there: a job killed mid-write
    leaves no file a later stage could take for finished work."""
    table.to_parquet(partial_path(path), index=False)
    os.replace(partial_path(path), path)


def write_index(items: Iterable[Item], out: Path) -> pd.DataFrame:
    df = to_frame(items)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(df, out)
    bad = df[df["status"] != "ok"]
    if len(bad):
        log.warning("%s: %d of %d items quarantined", out.stem, len(bad), len(df))
        for _, r in bad.head(20).iterrows():
            log.warning("  quarantined %s: %s", r["path"], r["problem"])
    return df


def read_index(path: Path, only_ok: bool = True) -> pd.DataFrame:
    import pandas as pd

    df = pd.read_parquet(path)
    return df[df["status"] == "ok"].reset_index(drop=True) if only_ok else df


def _sniff_container(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    if head[:4] == b"OggS":
        return "OGG"
    if head[:3] == b"ID3" or head[:2] in (b"\xff\xfb", b"\xff\xf3"):
        return "MP3"
    return None


def _wav_truncation(path: Path) -> str | None:
    """Compare the data chunk's declared size with the bytes really there."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        f.seek(12)
        while True:
            hdr = f.read(8)
            if len(hdr) < 8:
                return "truncated or malformed WAV: no data chunk"
            cid, clen = struct.unpack("<4sI", hdr)
            if cid == b"data":
                have = size - f.tell()
                # 0 and 0xFFFFFFFF mark a stream written without a final size: not truncation
                if clen not in (0, 0xFFFFFFFF) and have < clen:
                    return f"truncated: WAV header declares {clen} audio bytes, file holds {have}"
                return None
            f.seek(clen + (clen & 1), 1)


def _unreachable(path: Path) -> str | None:
    """Why a listed path has no file behind it: missing, a dangling link, a link loop."""
    try:
        os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop"
        if path.is_symlink():
            return f"broken symbolic link (to {os.readlink(path)})"
        return "file is missing" if e.errno == errno.ENOENT else f"cannot stat file: {e.strerror}"
    return None


def probe_audio(path: Path, item: Item) -> Item:
    """Fill duration / rate / channels, or quarantine the item with the reason."""
    import numpy as np
    import soundfile as sf

    if why := _unreachable(path):
        return item.quarantine(why)
    if path.stat().st_size == 0:
        return item.quarantine("empty file (0 bytes)")
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as e:
        return item.quarantine(f"unreadable file: {e.strerror or e}")
    kind = _sniff_container(head)
    expected = {".wav": "WAV", ".flac": "FLAC"}.get(path.suffix.lower())
    if kind is None:
        return item.quarantine("not an audio file (unknown header)")
    if expected and kind != expected:
        return item.quarantine(f"file is {kind} but named {path.suffix}")
    try:
        if kind == "WAV" and (why := _wav_truncation(path)):
            return item.quarantine(why)
        info = sf.info(str(path))
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile's errors are not one class
        return item.quarantine(f"unreadable audio: {str(e).splitlines()[0][:200]}")
    item.sample_rate, item.channels = int(sr), int(info.channels)
    item.duration = round(audio.shape[0] / sr, 4)
    if item.duration < MIN_DURATION_S:
        return item.quarantine(f"too short: {item.duration:.3f} s < {MIN_DURATION_S} s")
    if not np.isfinite(audio).all():
        return item.quarantine("audio holds NaN or infinite samples")
    if float(np.abs(audio).max()) == 0.0:
        return item.quarantine("digital silence (all samples zero)")
    return item


def probe_image(path: Path, item: Item, size: tuple[int, int] = (48, 48)) -> Item:
    from PIL import Image

    if not path.exists():
        return item.quarantine("file is missing")
    if path.stat().st_size == 0:
        return item.quarantine("empty file (0 bytes)")
    try:
        with Image.open(path) as im:
            im.load()
            w, h = im.size
            mode = im.mode
    except Exception as e:
        return item.quarantine(f"unreadable image: {str(e)[:200]}")
    if (w, h) != size:
        return item.quarantine(f"image is {w}x{h}, expected {size[0]}x{size[1]}")
    item.channels = 1 if mode in ("L", "1", "I", "I;16") else len(mode)
    return item


def audio_files(root: Path) -> list[Path]:
    """Every path under root named like audio, links that lead nowhere included (they are
    quarantined with the reason, not skipped in silence)."""
    named = (p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    return sorted(p for p in named if p.is_symlink() or p.is_file())
