"""Emotion conversion on WORLD features, any source emotion to any target, measured on
held-out speakers against the real recording of the same speaker and sentence.

prepare: the clips (a subset of the index), their pairs and the speaker split;
analyse: WORLD features of every clip, silence trimmed, on a process pool;
fit: the converter learns from training-speaker pairs;
convert + measure: each test pair becomes a WAV, analysed again and compared with its target.
"""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

from .. import convert, tracking
from ..corpora import read_index
from ..corpora.base import item_path
from ..evaluate.conversion import Tracks, analyze_for_eval, compare, trimmed
from ..features.audio import load_audio
from ..features.world import World, synthesize
from .common import fold_split, write_json

METRICS = ("mcd_db", "logf0_rmse", "f0_corr", "vuv_error")


@dataclass(frozen=True)
class Split:
    clips: pd.DataFrame                        # the index rows used, 0..n-1
    pairs: dict[str, list[tuple[int, int]]]    # part -> (source row, target row)
    speakers: dict[str, list[str]]


def pair_keys(clips: pd.DataFrame) -> list[str]:
    """What makes two clips the same utterance in another emotion."""
    keys = ["speaker", "sentence"] + [k for k in ("repetition",) if k in clips.columns]
    missing = [k for k in ("speaker", "sentence") if clips[k].isna().all()]
    if missing:
        raise ValueError(f"pairing needs {missing} in the index: this corpus has no parallel sentences")
    return keys


def any_to_any_pairs(clips: pd.DataFrame) -> list[tuple[int, int]]:
    """Every ordered (source, target) of the same utterance in two different emotions."""
    keys = pair_keys(clips)
    rows = clips.reset_index(drop=True).reset_index()
    merged = rows.merge(rows, on=keys, suffixes=("_s", "_t"))
    merged = merged[merged["emotion_s"] != merged["emotion_t"]]
    return sorted(zip(merged["index_s"].tolist(), merged["index_t"].tolist()))


def prepare(index_path: Path, cfg: dict, seed: int) -> Split:
    clips = read_index(index_path)
    clips = clips[clips["modality"] == "audio"]
    for column, wanted in cfg.get("subset", {}).items():
        if column not in clips.columns:
            raise ValueError(f"translate.subset names {column!r}, which {index_path} has no column for")
        clips = clips[clips[column].astype(str) == str(wanted)]
    if cfg.get("emotions"):
        clips = clips[clips["emotion"].isin(cfg["emotions"])]
    clips = clips.reset_index(drop=True)
    if clips.empty:
        raise ValueError(f"{index_path}: no audio clips left after translate.subset {cfg.get('subset')} "
                         f"and translate.emotions {cfg.get('emotions')}")
    speakers = cfg.get("speakers") or fold_split(clips["speaker"].tolist(), int(cfg["folds"]), 0, seed)
    speakers = {part: [str(s) for s in speakers.get(part, [])] for part in ("val", "test")}
    held_out = set(speakers["val"]) | set(speakers["test"])
    speakers["train"] = sorted(set(clips["speaker"]) - held_out)
    part_of = {s: part for part, names in speakers.items() for s in names}
    pairs: dict[str, list] = {"train": [], "val": [], "test": []}
    for source, target in any_to_any_pairs(clips):
        pairs[part_of[clips.at[source, "speaker"]]].append((source, target))
    if not pairs["train"] or not pairs["test"]:
        raise ValueError(f"{index_path}: {len(pairs['train'])} training and {len(pairs['test'])} test pairs; "
                         "both need the same sentence in several emotions per speaker")
    return Split(clips, pairs, speakers)


def _analyse(path: Path, sample_rate: int) -> World:
    return analyze_for_eval(load_audio(path, sample_rate), sample_rate)


def _pool_map(work, jobs: list, workers: int, desc: str) -> list:
    if workers <= 1:
        return [work(job) for job in tqdm(jobs, desc=desc, unit="clip")]
    with ProcessPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(work, jobs, chunksize=4), total=len(jobs), desc=desc, unit="clip"))


def _convert_one(job, converter, sample_rate: int) -> dict:
    """One test pair: convert, write the WAV, analyse it, compare with the target."""
    source_world, source_path, source_emotion, target_emotion, target_tracks, wav = job
    if converter.resynthesises:
        audio = synthesize(converter.convert(source_world, source_emotion, target_emotion))
        tracks = Tracks.of(analyze_for_eval(audio, sample_rate))
    else:  # the source recording itself
        audio = trimmed(load_audio(source_path, sample_rate))
        tracks = Tracks.of(source_world)
    wav.parent.mkdir(parents=True, exist_ok=True)
    sf.write(wav, audio, sample_rate, subtype="PCM_16")
    return compare(tracks, target_tracks)


def fit(cfg: dict, index_path: Path, root: Path, out: Path, corpus: str, variant: str,
        workers: int = 1) -> dict:
    t0 = time.time()
    seed, sample_rate = int(cfg.get("seed", 0)), int(cfg.get("sample_rate", 16000))
    split = prepare(index_path, cfg, seed)
    clips = split.clips
    paths = [item_path(root, p) for p in clips["path"]]
    emotions = clips["emotion"].tolist()
    needed = sorted({i for part in ("train", "test") for pair in split.pairs[part] for i in pair})
    analysed = _pool_map(partial(_analyse, sample_rate=sample_rate), [paths[i] for i in needed],
                         workers, f"WORLD analysis {corpus}")
    worlds = dict(zip(needed, analysed))

    converter = convert.get(variant)()
    converter.fit([(worlds[s], worlds[t], emotions[s], emotions[t]) for s, t in split.pairs["train"]])

    audio_dir = out / "audio"
    test = split.pairs["test"]
    names = [f"{Path(paths[s]).stem}_to_{emotions[t]}.wav" for s, t in test]
    jobs = [(worlds[s], paths[s], emotions[s], emotions[t], Tracks.of(worlds[t]), audio_dir / name)
            for (s, t), name in zip(test, names)]
    work = partial(_convert_one, converter=converter, sample_rate=sample_rate)
    measured = _pool_map(work, jobs, workers, f"convert {corpus}/{variant}")

    per_pair = pd.DataFrame(measured)
    per_pair.insert(0, "wav", names)
    per_pair.insert(1, "source_id", [clips.at[s, "item_id"] for s, _ in test])
    per_pair.insert(2, "target_id", [clips.at[t, "item_id"] for _, t in test])
    per_pair.insert(3, "target_emotion", [emotions[t] for _, t in test])
    out.mkdir(parents=True, exist_ok=True)
    per_pair.to_csv(out / "pairs.csv", index=False)
    result = {f"test/{m}": float(np.nanmean(per_pair[m])) for m in METRICS}
    result |= {f"test/{m}_std": float(np.nanstd(per_pair[m])) for m in METRICS}
    result |= {"test/pairs": len(test), "train/pairs": len(split.pairs["train"]), "speakers": split.speakers,
               "converter": converter.state(), "sample_rate": sample_rate,
               "wall_s": round(time.time() - t0, 2), "device": "cpu"}
    write_json(out / "metrics.json", result)
    tags = {"task": "translate", "corpus": corpus, "variant": variant, "device": "cpu"}
    with tracking.run("translate", f"{corpus}/{variant}", cfg, tags=tags) as mlrun:
        mlrun.metrics({k: v for k, v in result.items() if k.startswith("test/")})
        mlrun.artifact(out / "metrics.json")
        mlrun.artifact(out / "pairs.csv")
    return result
