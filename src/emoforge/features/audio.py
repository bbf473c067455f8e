"""Audio -> mono at the target rate -> log-mel frames and MFCC-statistics vectors."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..numba_cache import import_librosa


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400   # 25 ms
    hop_length: int = 160   # 10 ms
    n_mels: int = 64
    fmin: float = 20.0
    fmax: float = 8000.0
    n_mfcc: int = 40

    @classmethod
    def from_params(cls, p: dict) -> "MelConfig":
        return cls(**{k: p[k] for k in cls.__dataclass_fields__ if k in p})


def load_audio(path, sample_rate: int) -> np.ndarray:
    """Read any libsndfile format; downmix to mono; resample (soxr HQ) to sample_rate."""
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(audio.mean(axis=1), sr, sample_rate)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """float32 audio at to_rate (soxr HQ); the same array when the rates agree."""
    if from_rate == to_rate:
        return audio
    import soxr
    return soxr.resample(audio, from_rate, to_rate, quality="HQ").astype(np.float32)


MIN_SECONDS, MAX_SECONDS = 0.3, 30.0  # one utterance: what `emoforge translate` and `predict` take


def read_utterance(path: Path, sample_rate: int) -> np.ndarray:
    """A user's recording of one utterance, with a clear error for a missing or unreadable file
    (empty, random bytes, a format libsndfile lacks) and for one outside MIN-MAX_SECONDS."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise ValueError(f"{path} is not audio that libsndfile can read ({e})") from None
    if not MIN_SECONDS <= info.duration <= MAX_SECONDS:
        raise ValueError(f"{path} lasts {info.duration:.2f} s; emoforge takes single utterances of "
                         f"{MIN_SECONDS}-{MAX_SECONDS:.0f} s: cut it first")
    return load_audio(path, sample_rate)


def log_mel(audio: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """(frames, n_mels) natural-log mel power."""
    librosa = import_librosa()
    mel = librosa.feature.melspectrogram(
        y=audio, sr=cfg.sample_rate, n_fft=cfg.n_fft, win_length=cfg.win_length,
        hop_length=cfg.hop_length, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, power=2.0)
    return np.log(mel + 1e-6).T.astype(np.float32)


def trim_silence(mel: np.ndarray, drop: float = 7.0) -> np.ndarray:
    """Cut leading/trailing frames more than `drop` natural-log units (~30 dB) below the loudest."""
    energy = np.log(np.exp(mel).sum(1) + 1e-9)
    loud = np.flatnonzero(energy > energy.max() - drop)
    return mel[loud[0]:loud[-1] + 1] if len(loud) else mel


def mfcc_stats(audio: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """Mean and std over frames of MFCCs and their deltas: 4 * n_mfcc values."""
    librosa = import_librosa()
    mfcc = librosa.feature.mfcc(y=audio, sr=cfg.sample_rate, n_mfcc=cfg.n_mfcc, n_fft=cfg.n_fft,
                                hop_length=cfg.hop_length, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax)
    width = min(9, mfcc.shape[1] - (1 - mfcc.shape[1] % 2))
    delta = librosa.feature.delta(mfcc, width=max(3, width)) if mfcc.shape[1] >= 3 else np.zeros_like(mfcc)
    return np.concatenate([mfcc.mean(1), mfcc.std(1), delta.mean(1), delta.std(1)]).astype(np.float32)


def r3_mfcc259(path, cfg: MelConfig) -> np.ndarray:
    """R3's vector: 3 s from 0.5 s in, at 44.1 kHz; 13 MFCCs averaged over the coefficients
    of each frame (not over time), so the 259 values trace the clip's spectral envelope in time.
    A clip too short for 259 frames ends in NaN, as in R3's table, which then dropped the row
    (`incomplete: drop` in r3_cnn1d's recipe)."""
    librosa = import_librosa()
    sr = 44100
    audio = load_audio(path, sr)[int(0.5 * sr): int(3.5 * sr)]
    values = librosa.feature.mfcc(y=audio, sr=sr, n_mfcc=13).mean(axis=0).astype(np.float32)
    return np.pad(values, (0, R3_FRAMES - len(values)), constant_values=np.nan)


R3_FRAMES = 259  # 1 + 3 s * 44,100 // 512


def r2_frames848(path, cfg: MelConfig) -> np.ndarray:
    """R2's vector: at 18 kHz, after noisereduce's spectral gating, padded with zeros or cut to
    3 s; eight frame-level descriptors at librosa's default framing (2048 / hop 512), each 106
    frames, one after the other: zero-crossing rate, RMS, the mean of 13 MFCCs, spectral
    centroid, bandwidth, flatness, roll-off at 0.85 and at 0.01. Not scaled."""
    import noisereduce

    librosa = import_librosa()
    sr = 18000
    audio = noisereduce.reduce_noise(y=load_audio(path, sr), sr=sr)
    audio = librosa.util.fix_length(audio, size=3 * sr)
    feature = librosa.feature
    parts = [feature.zero_crossing_rate(y=audio), feature.rms(y=audio),
             feature.mfcc(y=audio, sr=sr, n_mfcc=13).mean(axis=0),
             feature.spectral_centroid(y=audio, sr=sr), feature.spectral_bandwidth(y=audio, sr=sr),
             feature.spectral_flatness(y=audio),
             feature.spectral_rolloff(y=audio, sr=sr, roll_percent=0.85),
             feature.spectral_rolloff(y=audio, sr=sr, roll_percent=0.01)]
    return np.concatenate([np.ravel(part) for part in parts]).astype(np.float32)


def smile_functionals(audio: np.ndarray, cfg: MelConfig, feature_set: str) -> np.ndarray:
    """openSMILE utterance functionals of a standard set: eGeMAPSv02 (88 values, Eyben et al.
    2016) or ComParE_2016 (6373 values, the INTERSPEECH 2013 ComParE set)."""
    import opensmile
    smile = _SMILE.get(feature_set)
    if smile is None:
        smile = _SMILE[feature_set] = opensmile.Smile(feature_set=opensmile.FeatureSet[feature_set],
                                                      feature_level=opensmile.FeatureLevel.Functionals)
    return smile.process_signal(audio, cfg.sample_rate).to_numpy(np.float32)[0]


_SMILE: dict = {}

# Fixed-length vectors, one Parquet file each in data/features/<corpus>/<name>.parquet;
# a corpus gets those its SER variants read.
VECTORS = {
    "mfcc_stats": lambda path, audio, cfg: mfcc_stats(audio, cfg),
    "r3_mfcc259": lambda path, audio, cfg: r3_mfcc259(path, cfg),
    "r2_frames848": lambda path, audio, cfg: r2_frames848(path, cfg),
    "egemaps": lambda path, audio, cfg: smile_functionals(audio, cfg, "eGeMAPSv02"),
    "compare": lambda path, audio, cfg: smile_functionals(audio, cfg, "ComParE_2016"),
}


def _ssl_recipe(name: str):
    def recipe(path, audio, cfg):
        from .ssl import embed, load_encoder
        if cfg.sample_rate != 16000:
            raise ValueError(f"{name} expects 16 kHz audio; features.sample_rate is {cfg.sample_rate}")
        return embed(audio, load_encoder(name))
    return recipe


def _register_ssl() -> None:
    from .ssl import SSL_MODELS
    VECTORS.update({name: _ssl_recipe(name) for name in SSL_MODELS})


_register_ssl()


def mel_to_audio(logmel: np.ndarray, cfg: MelConfig, n_iter: int = 48) -> np.ndarray:
    """Invert a (frames, n_mels) log-mel with Griffin-Lim, for listening to translations."""
    librosa = import_librosa()
    return librosa.feature.inverse.mel_to_audio(
        np.exp(logmel.T), sr=cfg.sample_rate, n_fft=cfg.n_fft, win_length=cfg.win_length,
        hop_length=cfg.hop_length, fmin=cfg.fmin, fmax=cfg.fmax, power=2.0, n_iter=n_iter)
