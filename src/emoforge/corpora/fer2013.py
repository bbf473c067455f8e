"""FER-2013: the original fer2013.csv (emotion,pixels,Usage) or the image-folder variant."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..labels import FER_CLASSES, FER_TO_CANONICAL
from .base import Corpus, Item, probe_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
PIXELS = 48 * 48


def find_csv(root: Path) -> Path | None:
    if root.is_file() and root.suffix == ".csv":
        return root
    found = sorted(root.rglob("*.csv")) if root.is_dir() else []
    return found[0] if found else None


def index_folders(root: Path, corpus: str) -> list[Item]:
    items = []
    for split in ("train", "test"):
        for path in sorted((root / split).rglob("*")):
            if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            rel = path.relative_to(root).as_posix()
            label = path.parent.name.lower()
            item = Item(item_id=f"{corpus}/{split}/{label}/{path.stem}", corpus=corpus, path=rel,
                        modality="image", raw_label=label, split_group=split)
            item.extra = {"split": split}
            if label not in FER_TO_CANONICAL:
                items.append(item.quarantine(f"mislabelled: folder {label!r} is not a FER-2013 class"))
                continue
            item.emotion = FER_TO_CANONICAL[label]
            items.append(probe_image(path, item))
    return items


def parse_pixels(text: str) -> np.ndarray:
    values = np.array(text.split(), dtype=np.int64)
    if values.size != PIXELS:
        raise ValueError(f"{values.size} pixel values, expected {PIXELS}")
    if values.min() < 0 or values.max() > 255:
        raise ValueError("pixel value outside 0-255")
    return values.astype(np.uint8).reshape(48, 48)


def index_csv(csv_path: Path, root: Path, corpus: str) -> list[Item]:
    items = []
    rel = csv_path.relative_to(root).as_posix() if csv_path != root else csv_path.name
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{csv_path}: missing column(s) {sorted(missing)}; expected emotion,pixels,Usage")
        for row_no, row in enumerate(reader):
            usage = row.get("Usage") or ""
            item = Item(item_id=f"{corpus}/row{row_no:05d}", corpus=corpus, path=f"{rel}#row={row_no}",
                        modality="image", raw_label=row.get("emotion"),
                        split_group=USAGE_TO_SPLIT.get(usage, usage))
            item.extra = {"split": USAGE_TO_SPLIT.get(usage, usage), "row": row_no}
            try:
                code = int(row["emotion"])
                if not 0 <= code < len(FER_CLASSES):
                    raise ValueError(f"emotion code {code} outside 0-6")
                if usage not in USAGE_TO_SPLIT:
                    raise ValueError(f"unknown Usage {usage!r}")
                parse_pixels(row["pixels"] or "")
            except (TypeError, ValueError) as e:
                items.append(item.quarantine(f"bad row {row_no} ({csv_path.name} line {row_no + 2}): {e}"))
                continue
            item.emotion = FER_TO_CANONICAL[FER_CLASSES[code]]
            item.channels = 1
            items.append(item)
    return items


def index(root: Path, cfg: dict, corpus: str = "fer2013") -> list[Item]:
    if root.is_dir() and (root / "train").is_dir():
        return index_folders(root, corpus)
    csv_path = find_csv(root)
    if csv_path is None:
        raise FileNotFoundError(
            f"{root}: no FER-2013 found; expected train/ and test/ class folders or fer2013.csv")
    return index_csv(csv_path, root if root.is_dir() else root.parent, corpus)


def load_image(root: Path, rel: str) -> np.ndarray:
    """Return one 48x48 uint8 face, from an image file or a `file.csv#row=N` reference."""
    if "#row=" in rel:
        raise ValueError("CSV rows are loaded in bulk by load_csv_rows")
    from PIL import Image
    with Image.open(root / rel) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8)


def load_csv_rows(csv_path: Path, rows: set[int]) -> dict[int, np.ndarray]:
    out = {}
    with open(csv_path, newline="") as f:
        for row_no, row in enumerate(csv.DictReader(f)):
            if row_no in rows:
                out[row_no] = parse_pixels(row["pixels"])
    return out


CORPUS = Corpus(name="fer2013", modality="image", index=index, default_folds=1,
                description="FER-2013 faces, 48x48 grayscale, 7 classes",
                licence="research use (ICML 2013 challenge)",
                how_to_get="FER-2013 is distributed through Kaggle (an account and API token are needed): "
                           "download fer2013.csv or the train/ test/ image folders yourself.")
