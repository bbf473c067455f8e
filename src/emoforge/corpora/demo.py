"""The built-in SYNTHETIC demo: speech in RAVDESS's layout, faces in FER-2013's."""
from __future__ import annotations

from pathlib import Path

from . import fer2013, ravdess
from .base import Corpus, Item


# The generators import scipy (a second at start-up), so they load when a corpus is made,
# not whenever the workflow is parsed.
def make_speech(dest: Path, cfg: dict) -> None:
    from ..demo import speech
    speech.generate(dest, actors=int(cfg.get("actors", 8)), seed=int(cfg.get("seed", 0)))


def make_faces(dest: Path, cfg: dict) -> None:
    from ..demo import faces
    counts = {"train": int(cfg.get("train_per_class", 150)), "test": int(cfg.get("test_per_class", 40))}
    faces.generate(dest, counts, seed=int(cfg.get("seed", 0)))


def index_speech(root: Path, cfg: dict, corpus: str = "demo_speech") -> list[Item]:
    return ravdess.index(root, cfg, corpus=corpus)


def index_faces(root: Path, cfg: dict, corpus: str = "demo_faces") -> list[Item]:
    return fer2013.index_folders(root, corpus)


SPEECH = Corpus(name="demo_speech", modality="audio", index=index_speech, download=make_speech,
                default_folds=4, description="SYNTHETIC demo speech (RAVDESS layout)", licence="CC0",
                options={"actors": "how many synthetic speakers (2-24)"})
FACES = Corpus(name="demo_faces", modality="image", index=index_faces, download=make_faces,
               default_folds=1, description="SYNTHETIC demo faces (FER-2013 layout)", licence="CC0",
               options={"train_per_class": "faces drawn per class for training",
                        "test_per_class": "faces drawn per class for testing"})
