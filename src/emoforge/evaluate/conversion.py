"""Converted speech against the real target recording: MCD, log-F0 RMSE and correlation,
voicing error, each over a DTW alignment of the two clips' mel-cepstra.

Both clips are trimmed of leading and trailing silence and analysed with WORLD the same
way, whatever produced them (a converter, a vocoder, or nothing: the source itself)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..features.world import World, analyze
from ..numba_cache import import_librosa

MCD_CONSTANT = 10.0 / np.log(10.0) * np.sqrt(2.0)  # dB per unit of cepstral distance
TRIM_DB = 30.0


def trimmed(audio: np.ndarray) -> np.ndarray:
    """Leading and trailing frames more than TRIM_DB below the loudest are cut."""
    librosa = import_librosa()
    kept, _ = librosa.effects.trim(audio, top_db=TRIM_DB)
    return kept if len(kept) else audio


def analyze_for_eval(audio: np.ndarray, sample_rate: int) -> World:
    return analyze(trimmed(audio), sample_rate)


def dtw_path(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame pairs (ia, ib), in time order, aligning (Ta, D) with (Tb, D) by Euclidean DTW."""
    librosa = import_librosa()
    _, path = librosa.sequence.dtw(X=a.T, Y=b.T, metric="euclidean")
    path = path[::-1]
    return path[:, 0], path[:, 1]


def mcd_db(a: np.ndarray, b: np.ndarray) -> float:
    """Mean mel-cepstral distortion over aligned frames, c1.. only (c0 is loudness)."""
    diff = a[:, 1:] - b[:, 1:]
    return float(np.mean(MCD_CONSTANT * np.sqrt((diff ** 2).sum(axis=1))))


@dataclass(frozen=True)
class Tracks:
    """What the metrics read of a clip: (T, 25) mel-cepstrum and (T,) log-F0 (NaN unvoiced)."""
    mcep: np.ndarray
    log_f0: np.ndarray

    @classmethod
    def of(cls, world: World) -> "Tracks":
        return cls(world.mcep(), world.log_f0())


def compare(converted: Tracks, target: Tracks) -> dict[str, float]:
    """Every per-pair metric of one conversion against its real target."""
    conv_mcep, target_mcep = converted.mcep, target.mcep
    ia, ib = dtw_path(conv_mcep[:, 1:], target_mcep[:, 1:])
    conv_lf0, target_lf0 = converted.log_f0[ia], target.log_f0[ib]
    conv_voiced, target_voiced = ~np.isnan(conv_lf0), ~np.isnan(target_lf0)
    both = conv_voiced & target_voiced
    row = {"mcd_db": mcd_db(conv_mcep[ia], target_mcep[ib]),
           "vuv_error": float(np.mean(conv_voiced != target_voiced)),
           "logf0_rmse": float("nan"), "f0_corr": float("nan")}
    if both.sum() >= 3:
        row["logf0_rmse"] = float(np.sqrt(np.mean((conv_lf0[both] - target_lf0[both]) ** 2)))
        if np.std(conv_lf0[both]) > 0 and np.std(target_lf0[both]) > 0:
            row["f0_corr"] = float(np.corrcoef(conv_lf0[both], target_lf0[both])[0, 1])
    return row
