"""Corpus registry: adding a corpus is one module plus one line here."""
from __future__ import annotations

import difflib
from pathlib import Path

from . import crema_d, demo, fer2013, iemocap, manifest, ravdess
from .base import COMMON_KEYS, Corpus, Item, read_index, write_index  # noqa: F401 (re-exported)

REGISTRY: dict[str, Corpus] = {c.name: c for c in (
    demo.SPEECH, demo.FACES, ravdess.CORPUS, crema_d.CORPUS, iemocap.CORPUS, fer2013.CORPUS, manifest.CORPUS)}


def config_errors(name: str, cfg) -> list[str]:
    """What is wrong with corpora.<name> in params, each naming the key, the corpus and the fix."""
    where = f"corpora.{name}"
    if not isinstance(cfg, dict):
        return [f"{where}: expected a mapping such as {{enabled: true, path: /data/{name}}}, got {cfg!r}"]
    kind = cfg.get("type", name)
    if kind not in REGISTRY:
        hint = difflib.get_close_matches(str(kind), REGISTRY, n=1)
        return [f"{where}: unknown corpus type {kind!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; set `type:` to one of {sorted(REGISTRY)} (a corpus of your own: type: manifest)"]
    corpus = REGISTRY[kind]
    known = {**COMMON_KEYS, **corpus.options}
    errors = []
    for key in cfg:
        if key not in known:
            hint = difflib.get_close_matches(key, known, n=1)
            errors.append(f"{where}: unknown key `{key}` for a {kind} corpus"
                          + (f" (did you mean `{hint[0]}`?)" if hint else "") + f"; known keys: {sorted(known)}")
    if cfg.get("enabled"):
        for key in corpus.required:
            if cfg.get(key) in (None, "", {}):
                errors.append(f"{where}: a {kind} corpus needs `{key}:` ({known[key]})")
    folds = cfg.get("folds")
    if folds is not None and folds != "loso" and not (isinstance(folds, int) and folds >= 2):
        errors.append(f"{where}: `folds: {folds}` must be an integer of at least 2, or loso (leave one speaker out)")
    return errors


def check_config(corpora: dict) -> None:
    """Raise one error that lists every problem of every corpus entry."""
    errors = [e for name, cfg in (corpora or {}).items() for e in config_errors(name, cfg)]
    if errors:
        raise ValueError("params.yaml:\n  " + "\n  ".join(errors))


def corpus_type(name: str, cfg: dict) -> Corpus:
    """A config entry's `type` picks the registry row; by default the entry's own name."""
    kind = cfg.get("type", name)
    if kind not in REGISTRY:
        raise KeyError(f"corpus {name!r}: unknown type {kind!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[kind]


def raw_root(name: str, cfg: dict, data_dir: Path = Path("data")) -> Path:
    """Where a corpus's files are: a user-supplied copy (`path`) or data/raw/<name>."""
    return Path(cfg["path"]).expanduser() if cfg.get("path") else data_dir / "raw" / name
