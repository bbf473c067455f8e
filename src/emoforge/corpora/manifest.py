"""Any user corpus described by a CSV: path, emotion, speaker [, gender, sentence].

Paths, one rule: a row's `path` is absolute, or relative to the folder that holds the CSV
(the CSV may sit in a subfolder of the corpus, rows like `../audio/x.wav`). The index stores
it relative to the corpus folder (`path:` in params), or absolute when the file lies outside
that folder; every later stage reads it through `base.item_path(root, path)`.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..labels import check_canonical
from .base import Corpus, Item, item_path, probe_audio

REQUIRED = ("path", "emotion", "speaker")


def index_path(row_path: str, csv_dir: Path, root: Path) -> str:
    """A CSV row's path as the index stores it (see the module's docstring)."""
    full = Path(os.path.normpath(Path.cwd() / csv_dir / Path(row_path).expanduser()))
    try:
        return full.relative_to(Path(os.path.normpath(Path.cwd() / root))).as_posix()
    except ValueError:
        return str(full)


def index(root: Path, cfg: dict, corpus: str = "manifest") -> list[Item]:
    if not cfg.get("manifest"):
        raise ValueError(f"corpus {corpus!r} (type manifest) needs `manifest:`, the CSV that lists its files")
    csv_path = Path(cfg["manifest"]).expanduser()
    if not csv_path.is_absolute():
        csv_path = root / csv_path
    if not csv_path.is_file():
        raise FileNotFoundError(f"corpus {corpus!r}: manifest {csv_path} does not exist "
                                "(`manifest:` is relative to the corpus's `path:`, or absolute)")
    import pandas as pd

    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"{csv_path}: missing column(s) {missing}; need {list(REQUIRED)}")
    label_map = {str(k): check_canonical(v) for k, v in (cfg.get("label_map") or {}).items()}
    items = []
    for row_no, row in table.iterrows():
        rel = index_path(row["path"], csv_path.parent, root) if row["path"] else ""
        item = Item(item_id=f"{corpus}/{row_no:06d}", corpus=corpus, path=rel, modality="audio",
                    speaker=row["speaker"] or None, split_group=row["speaker"] or None,
                    raw_label=row["emotion"], gender=row.get("gender") or None,
                    sentence=row.get("sentence") or None)
        if not rel:
            items.append(item.quarantine("empty path"))
        elif not item.speaker:
            items.append(item.quarantine("no speaker given"))
        elif row["emotion"] not in label_map:
            items.append(item.quarantine(f"label {row['emotion']!r} has no entry in label_map"))
        else:
            item.emotion = label_map[row["emotion"]]
            items.append(probe_audio(item_path(root, rel), item))
    return items


CORPUS = Corpus(name="manifest", modality="audio", index=index, default_folds=5,
                description="a user corpus described by a CSV manifest",
                required=("path", "manifest", "label_map"),
                options={"manifest": "the CSV listing path,emotion,speaker[,gender,sentence], relative to "
                                     "`path:` or absolute; e.g. manifest: manifest.csv",
                         "label_map": "the CSV's emotion labels -> emoforge's emotions, e.g. "
                                      "{ang: angry, hap: happy, neu: neutral, sad: sad}"})
