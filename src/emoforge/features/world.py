"""WORLD vocoder analysis and resynthesis (pyworld): F0, spectral envelope, aperiodicity.

Converters change these and resynthesise; the evaluation reads mel-cepstra from the same
analysis, so every variant, and the unconverted source, is measured the same way."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

FRAME_MS = 5.0
N_MCEP = 25  # c0..c24: MCD uses c1..c24, as published emotional voice conversion results do
F0_FLOOR, F0_CEIL = 60.0, 700.0


@dataclass(frozen=True)
class World:
    """One clip in WORLD terms; frames are FRAME_MS apart."""
    f0: np.ndarray          # (T,) Hz, 0 where unvoiced
    envelope: np.ndarray    # (T, fft_size // 2 + 1) power spectral envelope
    aperiodicity: np.ndarray  # (T, fft_size // 2 + 1) in [0, 1]
    sample_rate: int

    @property
    def frames(self) -> int:
        return len(self.f0)

    def mcep(self, n: int = N_MCEP) -> np.ndarray:
        """(T, n) mel-cepstrum of the envelope (WORLD's coding: DCT of the mel-warped log envelope)."""
        import pyworld
        return pyworld.code_spectral_envelope(self.envelope, self.sample_rate, n)

    def log_f0(self) -> np.ndarray:
        """(T,) natural-log F0, NaN where unvoiced."""
        with np.errstate(divide="ignore"):
            return np.where(self.f0 > 0, np.log(np.maximum(self.f0, 1e-9)), np.nan)

    def active_frames(self, top_db: float = 30.0) -> np.ndarray:
        """(T,) bool: from the first to the last frame within top_db of the loudest."""
        power_db = 10 * np.log10(self.envelope.mean(axis=1) + 1e-20)
        loud = np.flatnonzero(power_db > power_db.max() - top_db)
        mask = np.zeros(self.frames, dtype=bool)
        mask[loud[0]:loud[-1] + 1] = True
        return mask

    def active(self, top_db: float = 30.0) -> "World":
        """The active frames only: leading and trailing silence trimmed."""
        kept = np.flatnonzero(self.active_frames(top_db))
        first, last = kept[0], kept[-1] + 1
        return replace(self, f0=self.f0[first:last], envelope=self.envelope[first:last],
                       aperiodicity=self.aperiodicity[first:last])

    def stretched(self, rate: float) -> "World":
        """Every track resampled to round(T * rate) frames: longer when rate > 1."""
        frames = max(2, int(round(self.frames * rate)))
        pick = np.clip(np.round(np.linspace(0, self.frames - 1, frames)).astype(int), 0, self.frames - 1)
        return replace(self, f0=self.f0[pick], envelope=self.envelope[pick],
                       aperiodicity=self.aperiodicity[pick])


def analyze(audio: np.ndarray, sample_rate: int) -> World:
    """Harvest F0 (refined by StoneMask), CheapTrick envelope, D4C aperiodicity."""
    import pyworld
    if audio.ndim != 1 or len(audio) < sample_rate // 20:
        raise ValueError(f"WORLD needs mono audio of at least 50 ms; got shape {audio.shape}")
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = pyworld.harvest(x, sample_rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=FRAME_MS)
    f0 = pyworld.stonemask(x, f0, times, sample_rate)
    envelope = pyworld.cheaptrick(x, f0, times, sample_rate)
    aperiodicity = pyworld.d4c(x, f0, times, sample_rate)
    return World(f0=f0, envelope=envelope, aperiodicity=aperiodicity, sample_rate=sample_rate)


def synthesize(world: World) -> np.ndarray:
    """float32 waveform at world.sample_rate, peak-limited to 0.99."""
    import pyworld
    audio = pyworld.synthesize(np.ascontiguousarray(world.f0, dtype=np.float64),
                               np.ascontiguousarray(world.envelope, dtype=np.float64),
                               np.ascontiguousarray(world.aperiodicity, dtype=np.float64),
                               world.sample_rate, FRAME_MS)
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak > 0.99:
        audio = audio * (0.99 / peak)
    return audio.astype(np.float32)
