"""Corpus registry: adding a corpus is one module plus one line here."""
from __future__ import annotations

from pathlib import Path

from . import crema_d, demo, fer2013, iemocap, manifest, ravdess
from .base import Corpus, Item, read_index, write_index  # noqa: F401 (re-exported)

REGISTRY: dict[str, Corpus] = {c.name: c for c in (
    demo.SPEECH, demo.FACES, ravdess.CORPUS, crema_d.CORPUS, iemocap.CORPUS, fer2013.CORPUS, manifest.CORPUS)}


def corpus_type(name: str, cfg: dict) -> Corpus:
    """A config entry's `type` picks the registry row; by default the entry's own name."""
    kind = cfg.get("type", name)
    if kind not in REGISTRY:
        raise KeyError(f"corpus {name!r}: unknown type {kind!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[kind]


def raw_root(name: str, cfg: dict, data_dir: Path = Path("data")) -> Path:
    """Where a corpus's files are: a user-supplied copy (`path`) or data/raw/<name>."""
    return Path(cfg["path"]).expanduser() if cfg.get("path") else data_dir / "raw" / name
