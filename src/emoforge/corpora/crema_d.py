"""CREMA-D (Cao et al. 2014): AudioWAV/<actor>_<sentence>_<emotion>_<level>.wav, 91 actors.

The audio lives in Git LFS in CheyneyComputerScience/CREMA-D. The download lists the
repository at a pinned commit, reads each file's LFS pointer (SHA-256 and size) and fetches
the media with those checksums; a checksum table (file,sha256,bytes) can be given instead.
"""
from __future__ import annotations

import csv
import json
import logging
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from ..download import DownloadError, Remote, download as fetch
from .base import Corpus, Item, audio_files, probe_audio

log = logging.getLogger(__name__)

EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {"IEO": "It's eleven o'clock", "TIE": "That is exactly what happened",
             "IOM": "I'm on my way to the meeting", "IWW": "I wonder what this is about",
             "TAI": "The airplane is almost full", "MTI": "Maybe tomorrow it will be cold",
             "IWL": "I would like a new alarm clock", "ITH": "I think I have a doctor's appointment",
             "DFA": "Don't forget a jacket", "ITS": "I think I've seen this before",
             "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes"}
NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")

REPO = "CheyneyComputerScience/CREMA-D"
COMMIT = "master"  # override with `commit:`; every file is checked against its pointer's SHA-256 either way
SOURCES = {"api_base": "https://api.github.com/repos", "raw_base": "https://raw.githubusercontent.com",
           "media_base": "https://media.githubusercontent.com/media"}


def parse_name(stem: str) -> dict:
    m = NAME.match(stem)
    if not m:
        raise ValueError(f"name {stem!r} does not follow actor_sentence_emotion_level")
    actor, sent, emo, level = m.groups()
    if not 1001 <= int(actor) <= 1091:
        raise ValueError(f"actor {actor} outside 1001-1091 in {stem!r}")
    for code, table, what in ((sent, SENTENCES, "sentence"), (emo, EMOTIONS, "emotion"), (level, LEVELS, "level")):
        if code not in table:
            raise ValueError(f"unknown {what} code {code!r} in {stem!r}")
    return {"actor": actor, "sentence": sent, "emotion": EMOTIONS[emo], "raw_label": emo, "intensity": LEVELS[level]}


def demographics(root: Path) -> dict[str, str]:
    path = next(iter(sorted(root.rglob("VideoDemographics.csv"))), None)
    if path is None:
        log.warning("%s: VideoDemographics.csv not found; gender left empty", root)
        return {}
    with open(path, newline="") as f:
        return {row["ActorID"].strip(): row["Sex"].strip().lower() for row in csv.DictReader(f)}


def index(root: Path, cfg: dict, corpus: str = "crema_d") -> list[Item]:
    sex = demographics(root)
    items = []
    for path in audio_files(root):
        item = Item(item_id=f"{corpus}/{path.stem}", corpus=corpus, path=path.relative_to(root).as_posix(),
                    modality="audio")
        try:
            meta = parse_name(path.stem)
        except ValueError as e:
            items.append(item.quarantine(f"mislabelled: {e}"))
            continue
        item.speaker = item.split_group = meta["actor"]
        item.gender = sex.get(meta["actor"])
        item.emotion, item.raw_label, item.intensity, item.sentence = (
            meta["emotion"], meta["raw_label"], meta["intensity"], meta["sentence"])
        items.append(probe_audio(path, item))
    return items


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "emoforge"}), timeout=60) as r:
            return r.read()
    except OSError as e:
        raise DownloadError(f"{url}: {e}") from e


def parse_pointer(text: str) -> tuple[str, int]:
    """An LFS pointer's `oid sha256:<hex>` and `size <n>` lines."""
    fields = dict(line.split(" ", 1) for line in text.strip().splitlines() if " " in line)
    oid, size = fields.get("oid", ""), fields.get("size", "")
    if not oid.startswith("sha256:") or not size.isdigit():
        raise DownloadError(f"not a Git LFS pointer: {text[:80]!r}")
    return oid.removeprefix("sha256:"), int(size)


def checksum_table(cfg: dict, cache: Path) -> list[tuple[str, str, int]]:
    """(file, sha256, bytes) for every WAV: from cfg['checksums'] or built from the LFS pointers."""
    src = cfg.get("checksums")
    if not src and cache.exists():
        src = str(cache)
    if src:
        text = _get(src).decode() if "://" in src else Path(src).read_text()
        return [(r["file"], r["sha256"], int(r["bytes"])) for r in csv.DictReader(text.splitlines())]
    s = {**SOURCES, **{k: cfg[k] for k in SOURCES if cfg.get(k)}}
    commit = cfg.get("commit", COMMIT)
    tree = json.loads(_get(f"{s['api_base']}/{REPO}/git/trees/{commit}?recursive=1"))
    names = sorted(e["path"] for e in tree["tree"] if e["path"].startswith("AudioWAV/") and e["path"].endswith(".wav"))
    if not names:
        raise DownloadError(f"no AudioWAV/*.wav in {REPO}@{commit}")

    def pointer(name):
        return (name, *parse_pointer(_get(f"{s['raw_base']}/{REPO}/{commit}/{name}").decode()))

    with ThreadPoolExecutor(8) as pool:
        rows = list(tqdm(pool.map(pointer, names), total=len(names), desc="CREMA-D LFS pointers", unit="file"))
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "sha256", "bytes"])
        w.writerows(rows)
    return rows


def download(dest: Path, cfg: dict) -> None:
    s = {**SOURCES, **{k: cfg[k] for k in SOURCES if cfg.get(k)}}
    commit = cfg.get("commit", COMMIT)
    rows = checksum_table(cfg, dest / ".downloads" / "AudioWAV.csv")

    def one(row):
        name, sha, size = row
        rel = name if name.startswith("AudioWAV/") else f"AudioWAV/{name}"
        target = dest / rel
        fetch(Remote(f"{s['media_base']}/{REPO}/{commit}/{rel}", target.name, sha256=sha, size=size), target.parent)

    with ThreadPoolExecutor(int(cfg.get("download_threads", 8))) as pool:
        list(tqdm(pool.map(one, rows), total=len(rows), desc="CREMA-D audio", unit="file"))
    demo = f"{s['raw_base']}/{REPO}/{commit}/VideoDemographics.csv"
    (dest / "VideoDemographics.csv").write_bytes(_get(cfg.get("demographics_url", demo)))


CORPUS = Corpus(name="crema_d", modality="audio", index=index, download=download, default_folds=6,
                description="CREMA-D, 91 actors, 6 emotions", licence="ODbL 1.0 / DbCL 1.0",
                options={"checksums": "a table of file,sha256,bytes to check the download against",
                         "commit": "the repository commit to download", "download_threads": "parallel downloads",
                         "demographics_url": "where VideoDemographics.csv comes from",
                         **{k: "a mirror of " + v for k, v in SOURCES.items()}})
