"""Whose voice, and how clean: speaker similarity (Resemblyzer's GE2E encoder) and DNSMOS
P.835 SIG/BAK/OVRL (speechmos). Both packages ship their weights in their wheels."""
from __future__ import annotations

import warnings

import numpy as np

from ..numba_cache import install

SAMPLE_RATE = 16000  # what both models take
_encoder = None


def _voice_encoder():
    global _encoder
    if _encoder is None:
        install()  # both packages import librosa
        with warnings.catch_warnings():  # Resemblyzer's imports are older than scipy's and setuptools'
            warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
            from resemblyzer import VoiceEncoder
        _encoder = VoiceEncoder("cpu", verbose=False)
    return _encoder


def _at_model_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if sample_rate == SAMPLE_RATE:
        return audio
    import soxr
    return soxr.resample(audio, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)


def speaker_embedding(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """A unit-length 256-value voice embedding (silences dropped by Resemblyzer's VAD)."""
    encoder = _voice_encoder()
    from resemblyzer import preprocess_wav
    audio = _at_model_rate(audio, sample_rate)
    wav = preprocess_wav(audio, source_sr=SAMPLE_RATE)
    if len(wav) < SAMPLE_RATE // 4:  # the VAD left almost nothing: embed the clip as it is
        wav = audio
    return encoder.embed_utterance(wav)


def dnsmos(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """DNSMOS P.835: signal (SIG), background (BAK) and overall (OVRL) quality, 1-5."""
    install()
    from speechmos import dnsmos as model
    audio = np.clip(_at_model_rate(audio, sample_rate), -1.0, 1.0)  # what a WAV file would hold
    scores = model.run(audio, sr=SAMPLE_RATE)
    return {name: float(scores[f"{name}_mos"]) for name in ("sig", "bak", "ovrl")}
