"""Emotion conversion on WORLD features, any source emotion to any target, measured on
held-out speakers against the real recording of the same speaker and sentence.

prepare: the clips (a subset of the index), their pairs and the speaker split;
analyse: WORLD features of every clip, on a process pool;
fit: the converter learns from training-speaker pairs;
convert + measure: each test pair becomes a WAV, analysed again and compared with its target;
judge: a SER model trained on other speakers says which emotion each WAV sounds like.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from .. import convert, tracking
from ..corpora import read_index
from ..corpora.base import item_path
from ..evaluate.conversion import Tracks, analyze_for_eval, compare
from ..evaluate.judge import EmotionJudge
from ..evaluate.voice import dnsmos, speaker_embedding
from ..features.audio import VECTORS, MelConfig, load_audio
from ..features.extract import map_files
from ..features.world import analyze, synthesize
from .common import fold_split, write_json

METRICS = ("mcd_db", "logf0_rmse", "f0_corr", "vuv_error", "speaker_sim") + tuple(
    f"dnsmos_{scale}{of}" for of in ("", "_real", "_world_resynth", "_vocoder")
    for scale in ("sig", "bak", "ovrl"))


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
    unknown = sorted(set(speakers["val"] + speakers["test"]) - set(clips["speaker"]))
    if unknown:
        raise ValueError(f"translate.world.speakers names {unknown}, who have no clips in {index_path} "
                         f"(its speakers: {sorted(set(clips['speaker']))})")
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


@dataclass(frozen=True)
class Reference:
    """A test clip as conversions are measured against it."""
    tracks: Tracks              # trimmed WORLD analysis
    speaker: np.ndarray         # voice embedding
    quality: dict               # DNSMOS of the recording
    resynth_quality: dict       # DNSMOS of its WORLD copy-synthesis: WORLD's own ceiling
    vocoder_quality: dict       # DNSMOS of the converter's own copy-synthesis: its ceiling


def _analyse(job: tuple[Path, bool], sample_rate: int, converter) -> tuple[object, Reference | None]:
    """The clip as the converter reads it, whole (what it converts and learns from), and, for a
    test clip, what conversions are measured against."""
    path, is_test = job
    audio = load_audio(path, sample_rate)
    world = analyze(audio, sample_rate) if is_test or converter.reads == "world" else None
    source = convert.read(converter, audio, sample_rate, world)
    if not is_test:
        return source, None
    tracks = Tracks.of(analyze_for_eval(audio, sample_rate))
    world_copy = synthesize(world)
    copy = convert.copy_synthesis(converter, source, audio, world_copy, sample_rate)
    # the converter's own copy is often the recording or the WORLD copy: rate each waveform once
    rated = {id(audio): dnsmos(audio, sample_rate), id(world_copy): dnsmos(world_copy, sample_rate)}
    vocoder = rated[id(copy)] if id(copy) in rated else dnsmos(copy, sample_rate)
    return source, Reference(tracks, speaker_embedding(audio, sample_rate), rated[id(audio)],
                             rated[id(world_copy)], vocoder)


@dataclass(frozen=True)
class PairJob:
    source: object  # what the converter reads: WORLD features, or R1's spectrogram image
    source_path: Path
    source_emotion: str
    target_emotion: str
    source_ref: Reference
    target_ref: Reference
    wav: Path


def _convert_one(job: PairJob, converter, sample_rate: int, judge_feature: str | None,
                 mel: MelConfig) -> tuple[dict, np.ndarray | None]:
    """One test pair: convert, write the WAV, measure it against the target; the judge's
    functionals of the WAV when there is a judge."""
    if converter.resynthesises:
        audio = convert.render(converter, job.source, job.source_emotion, job.target_emotion, sample_rate)
        tracks, quality = Tracks.of(analyze_for_eval(audio, sample_rate)), dnsmos(audio, sample_rate)
        voice = speaker_embedding(audio, sample_rate)
    else:  # the source recording itself
        audio = load_audio(job.source_path, sample_rate)
        tracks, quality, voice = job.source_ref.tracks, job.source_ref.quality, job.source_ref.speaker
    job.wav.parent.mkdir(parents=True, exist_ok=True)
    sf.write(job.wav, audio, sample_rate, subtype="PCM_16")
    row = compare(tracks, job.target_ref.tracks)
    row["speaker_sim"] = float(voice @ job.target_ref.speaker)
    row |= {f"dnsmos_{k}": v for k, v in quality.items()}
    row |= {f"dnsmos_{k}_real": v for k, v in job.target_ref.quality.items()}
    row |= {f"dnsmos_{k}_world_resynth": v for k, v in job.target_ref.resynth_quality.items()}
    row |= {f"dnsmos_{k}_vocoder": v for k, v in job.target_ref.vocoder_quality.items()}
    functionals = None
    if judge_feature:
        heard = load_audio(job.wav, mel.sample_rate)  # as the judge's training clips were read
        functionals = VECTORS[judge_feature](job.wav, heard, mel)
    return row, functionals


def judge_conversions(judge: EmotionJudge, per_pair: pd.DataFrame, functionals: np.ndarray,
                      part: str = "test") -> dict:
    """Share of converted clips heard as their target emotion, beside the real targets
    (the ceiling) and the unconverted sources (the floor)."""
    speakers = per_pair["speaker"].tolist()
    heard = {"converted": judge.predict(functionals, speakers),
             "target": judge.predict(judge.vectors_of(per_pair["target_id"]), speakers),
             "source": judge.predict(judge.vectors_of(per_pair["source_id"]), speakers)}
    for kind, emotions in heard.items():
        per_pair[f"judge_{kind}"] = emotions
    hit = {kind: (per_pair[f"judge_{kind}"] == per_pair["target_emotion"]).to_numpy(float) for kind in heard}
    names = {kind: f"{part}/conversion_acc{'' if kind == 'converted' else '_' + kind}" for kind in hit}
    result = {names[kind]: float(v.mean()) for kind, v in hit.items()}
    result |= {f"{names[kind]}_std": float(v.std()) for kind, v in hit.items()}
    return result | {"judge": {"variant": judge.spec.name, "C": judge.C, "val_ua": judge.val_ua,
                               "chance": 1 / len(judge.emotions)}}


def fit(cfg: dict, index_path: Path, root: Path, out: Path, corpus: str, variant: str,
        workers: int = 1, judge_table: Path | None = None) -> dict:
    t0 = time.time()
    seed, sample_rate = int(cfg.get("seed", 0)), int(cfg.get("sample_rate", 16000))
    # `evaluate_on: val` measures the validation speakers instead, to compare settings without
    # looking at the test speakers; the judge then learns from the training speakers only.
    part = cfg.get("evaluate_on", "test")
    if part not in ("test", "val"):
        raise ValueError(f"evaluate_on must be test or val, not {part!r}")
    split = prepare(index_path, cfg, seed)
    clips = split.clips
    paths = [item_path(root, p) for p in clips["path"]]
    emotions = clips["emotion"].tolist()
    judge = None
    if judge_table is not None:
        judge_val = split.speakers["val"] if part == "test" else []
        judge = EmotionJudge(cfg.get("judge", "egemaps_linear"), pd.read_parquet(judge_table),
                             sorted(set(emotions)), split.speakers["train"], judge_val)

    test = split.pairs[part]
    if not test:
        raise ValueError(f"{index_path}: no {part} pairs to measure")
    test_clips = {i for pair in test for i in pair}
    needed = sorted(test_clips | {i for pair in split.pairs["train"] for i in pair})
    converter = convert.get(variant)(**cfg.get("model", {}).get(variant, {}))
    analysed = list(map_files(partial(_analyse, sample_rate=sample_rate, converter=converter),
                              [(paths[i], i in test_clips) for i in needed], workers,
                              f"analysis {corpus}", chunksize=4))
    sources = {i: source for i, (source, _) in zip(needed, analysed)}
    refs = {i: ref for i, (_, ref) in zip(needed, analysed)}

    converter.fit([(sources[s], sources[t], emotions[s], emotions[t]) for s, t in split.pairs["train"]],
                  checkpoint=out / "checkpoint.pt")

    names = [f"{Path(paths[s]).stem}_to_{emotions[t]}.wav" for s, t in test]
    jobs = [PairJob(sources[s], paths[s], emotions[s], emotions[t], refs[s], refs[t], out / "audio" / name)
            for (s, t), name in zip(test, names)]
    work = partial(_convert_one, converter=converter, sample_rate=sample_rate,
                   judge_feature=judge.feature if judge else None,
                   mel=MelConfig.from_params(cfg.get("features", {})))
    measured = list(map_files(work, jobs, workers, f"convert {corpus}/{variant}", chunksize=4))

    per_pair = pd.DataFrame([metrics for metrics, _ in measured])
    per_pair.insert(0, "wav", names)
    per_pair.insert(1, "source_id", [clips.at[s, "item_id"] for s, _ in test])
    per_pair.insert(2, "target_id", [clips.at[t, "item_id"] for _, t in test])
    per_pair.insert(3, "speaker", [str(clips.at[s, "speaker"]) for s, _ in test])
    per_pair.insert(4, "target_emotion", [emotions[t] for _, t in test])
    result = {f"{part}/{m}": float(np.nanmean(per_pair[m])) for m in METRICS}
    result |= {f"{part}/{m}_std": float(np.nanstd(per_pair[m])) for m in METRICS}
    if judge:
        result |= judge_conversions(judge, per_pair, np.stack([f for _, f in measured]), part)
    out.mkdir(parents=True, exist_ok=True)
    per_pair.to_csv(out / "pairs.csv", index=False)
    for i in sorted(test_clips):  # the real recordings, for listening beside the conversions
        real = out / "real" / f"{Path(paths[i]).stem}.wav"
        real.parent.mkdir(parents=True, exist_ok=True)
        sf.write(real, load_audio(paths[i], sample_rate), sample_rate, subtype="PCM_16")
    result |= {f"{part}/pairs": len(test), "train/pairs": len(split.pairs["train"]), "speakers": split.speakers,
               "converter": converter.describe(), "sample_rate": sample_rate,
               "wall_s": round(time.time() - t0, 2), "device": "cpu"}
    convert.save(converter, variant, sample_rate, out / "model.pt")
    tags = {"task": "translate", "corpus": corpus, "variant": variant, "device": "cpu"}
    with tracking.run("translate", f"{corpus}/{variant}", cfg, tags=tags) as mlrun:
        mlrun.metrics({k: v for k, v in result.items() if k.startswith(f"{part}/")})
        result["mlflow_model_uri"] = mlrun.model(out / "model.pt")
        write_json(out / "metrics.json", result)
        mlrun.artifact(out / "metrics.json")
        mlrun.artifact(out / "pairs.csv")
    return result
