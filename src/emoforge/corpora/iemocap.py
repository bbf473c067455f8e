"""IEMOCAP (Busso et al. 2008): licensed by USC SAIL, no public download.

Session1..5/sentences/wav/<dialog>/<utterance>.wav, labels in
Session N/dialog/EmoEvaluation/<dialog>.txt as `[start - end]<TAB>id<TAB>label<TAB>[V, A, D]`.
The standard 4-class set merges excited into happy; the split group is the session.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from .base import Corpus, Item, probe_audio

log = logging.getLogger(__name__)

LABELS = {"neu": "neutral", "hap": "happy", "exc": "excited", "ang": "angry", "sad": "sad",
          "fru": "frustration", "fea": "fearful", "sur": "surprised", "dis": "disgust"}
FOUR_CLASS = {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"}
LINE = re.compile(r"^\[(?P<start>[\d.]+) - (?P<end>[\d.]+)\]\t(?P<utt>\S+)\t(?P<label>\w+)\t"
                  r"\[(?P<v>[\d.]+), (?P<a>[\d.]+), (?P<d>[\d.]+)\]")
SPEAKER = re.compile(r"^Ses(\d\d)[FM]_.*_([FM])\d+$")
HOW_TO_GET = ("IEMOCAP is licensed by USC SAIL and cannot be downloaded automatically: request it at "
              "https://sail.usc.edu/iemocap/iemocap_release.htm, unpack IEMOCAP_full_release/ and set "
              "corpora.iemocap.path to that folder in params.yaml.")


def read_labels(root: Path) -> dict[str, dict]:
    out = {}
    for txt in sorted(root.glob("Session*/dialog/EmoEvaluation/*.txt")):
        for line in txt.read_text(errors="replace").splitlines():
            if m := LINE.match(line):
                out[m["utt"]] = {"label": m["label"], "vad": (float(m["v"]), float(m["a"]), float(m["d"]))}
    return out


def index(root: Path, cfg: dict, corpus: str = "iemocap") -> list[Item]:
    if not any(root.glob("Session[1-5]")):
        raise FileNotFoundError(f"{root}: no Session1..5 folders. {HOW_TO_GET}")
    four = cfg.get("classes", "four") == "four"
    labels = read_labels(root)
    items, skipped = [], 0
    for path in sorted(root.glob("Session*/sentences/wav/*/*.wav")):
        utt = path.stem
        item = Item(item_id=f"{corpus}/{utt}", corpus=corpus, path=path.relative_to(root).as_posix(), modality="audio")
        m = SPEAKER.match(utt)
        if not m:
            items.append(item.quarantine(f"mislabelled: utterance id {utt!r} has no session/speaker"))
            continue
        session, sex = m.groups()
        item.speaker = f"Ses{session}{sex}"  # the letter before the number, not the Ses01F prefix
        item.gender = "female" if sex == "F" else "male"
        item.split_group = f"Ses{session}"
        item.sentence = utt.rsplit("_", 1)[0]
        lab = labels.get(utt)
        if lab is None:
            items.append(item.quarantine("no label line in EmoEvaluation"))
            continue
        v, a, d = lab["vad"]
        item.raw_label = lab["label"]
        item.extra = {"valence": v, "arousal": a, "dominance": d}
        table = FOUR_CLASS if four else LABELS
        if lab["label"] not in table:  # outside the chosen class set (or xxx/oth): not part of this corpus
            skipped += 1
            continue
        item.emotion = table[lab["label"]]
        items.append(probe_audio(path, item))
    log.info("iemocap: %d utterances outside the %s class set left out", skipped, "4" if four else "full")
    return items


CORPUS = Corpus(name="iemocap", modality="audio", index=index, download=None, default_folds=5,
                description="IEMOCAP, 5 sessions, leave-one-session-out", licence="USC SAIL licence",
                how_to_get=HOW_TO_GET, options={"classes": "four (exc -> happy, the usual 4-class set) or full"})
