"""Any user corpus described by a CSV: path, emotion, speaker [, gender, sentence]."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..labels import check_canonical
from .base import Corpus, Item, probe_audio

REQUIRED = ("path", "emotion", "speaker")


def index(root: Path, cfg: dict, corpus: str = "manifest") -> list[Item]:
    csv_path = Path(cfg["manifest"])
    if not csv_path.is_absolute():
        csv_path = root / csv_path
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"{csv_path}: missing column(s) {missing}; need {list(REQUIRED)}")
    label_map = {str(k): check_canonical(v) for k, v in (cfg.get("label_map") or {}).items()}
    base = csv_path.parent
    items = []
    for row_no, row in table.iterrows():
        rel = row["path"]
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
            items.append(probe_audio(base / rel, item))
    return items


CORPUS = Corpus(name="manifest", modality="audio", index=index, default_folds=5,
                description="a user corpus described by a CSV manifest")
