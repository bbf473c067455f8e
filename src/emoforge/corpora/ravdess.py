"""RAVDESS (Livingstone & Russo 2018): Zenodo record 1188976, Actor_01..24 folders."""
from __future__ import annotations

import re
from pathlib import Path

from ..download import Remote, fetch_and_extract
from .base import Corpus, Item, audio_files, probe_audio

EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad",
            "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised"}
INTENSITY = {"01": "normal", "02": "strong"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
MODALITY = {"01": "full-AV", "02": "video-only", "03": "audio-only"}
CHANNEL = {"01": "speech", "02": "song"}
NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")

REMOTES = {
    "speech": Remote(
        url="https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1",
        filename="Audio_Speech_Actors_01-24.zip", md5="bc696df654c87fed845eb13823edef8a"),
}


def parse_name(stem: str) -> dict:
    """Decode a RAVDESS file name; raise ValueError saying which field is wrong."""
    m = NAME.match(stem)
    if not m:
        raise ValueError(f"name {stem!r} does not follow modality-channel-emotion-intensity-statement-repetition-actor")
    mod, chan, emo, inten, stmt, rep, actor = m.groups()
    for code, table, what in ((mod, MODALITY, "modality"), (chan, CHANNEL, "vocal channel"),
                              (emo, EMOTIONS, "emotion"), (inten, INTENSITY, "intensity"),
                              (stmt, STATEMENTS, "statement")):
        if code not in table:
            raise ValueError(f"unknown {what} code {code!r} in {stem!r}")
    if not 1 <= int(actor) <= 24 or rep not in ("01", "02"):
        raise ValueError(f"actor or repetition out of range in {stem!r}")
    if emo == "01" and inten == "02":
        raise ValueError(f"neutral has no strong intensity in RAVDESS: {stem!r}")
    return {"modality": MODALITY[mod], "channel": CHANNEL[chan], "emotion": EMOTIONS[emo],
            "raw_label": emo, "intensity": INTENSITY[inten], "sentence": stmt,
            "repetition": rep, "actor": int(actor)}


def index(root: Path, cfg: dict, corpus: str = "ravdess") -> list[Item]:
    items = []
    for path in audio_files(root):
        rel = path.relative_to(root).as_posix()
        item = Item(item_id=f"{corpus}/{path.stem}", corpus=corpus, path=rel, modality="audio")
        try:
            meta = parse_name(path.stem)
        except ValueError as e:
            items.append(item.quarantine(f"mislabelled: {e}"))
            continue
        folder = path.parent.name
        if folder.startswith("Actor_") and folder != f"Actor_{meta['actor']:02d}":
            items.append(item.quarantine(f"mislabelled: actor {meta['actor']:02d} file in folder {folder}"))
            continue
        actor = f"{meta['actor']:02d}"
        item.speaker = item.split_group = actor
        item.gender = "male" if meta["actor"] % 2 else "female"
        item.emotion, item.raw_label = meta["emotion"], meta["raw_label"]
        item.intensity, item.sentence = meta["intensity"], meta["sentence"]
        item.extra = {"repetition": meta["repetition"], "vocal_channel": meta["channel"]}
        items.append(probe_audio(path, item))
    return items


def download(dest: Path, cfg: dict) -> None:
    for part in cfg.get("parts", ["speech"]):
        fetch_and_extract(REMOTES[part], dest)


CORPUS = Corpus(name="ravdess", modality="audio", index=index, download=download, default_folds=6,
                description="RAVDESS speech, 24 actors, 8 emotions", licence="CC BY-NC-SA 4.0",
                options={"parts": "which Zenodo archives to download, e.g. [speech]"})
