"""SYNTHETIC demo speech in RAVDESS's layout, from a small source-filter synthesizer.

Every emotion changes prosody (pitch level, range and contour, speaking rate, energy)
and voice quality (glottal open quotient, breathiness, jitter, tremor); every speaker
has a pitch, vocal-tract length, tempo and a personal way of expressing each emotion,
so that speaker-independent evaluation means something. Same actor + statement +
repetition in two emotions gives the word-aligned pairs that translation trains on.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter
from tqdm import tqdm

from ..corpora.ravdess import EMOTIONS

SR = 16000
FRAME = 160  # 10 ms control rate

# Vowel formants (F1, F2, F3) of an adult male voice, Hz.
VOWELS = {"i": (270, 2290, 3010), "I": (390, 1990, 2550), "E": (530, 1840, 2480),
          "ae": (660, 1720, 2410), "a": (730, 1090, 2440), "O": (570, 840, 2410),
          "U": (440, 1020, 2240), "u": (300, 870, 2240), "@": (500, 1500, 2500)}
# Consonant onsets: (kind, centre Hz of the noise band).
CONSONANTS = {"k": ("stop", 2500), "t": ("stop", 4000), "d": ("stop", 3500), "b": ("stop", 1200),
              "s": ("fric", 5500), "z": ("fric", 5000), "D": ("fric", 3000), "": (None, 0)}
# "Kids are talking by the door" / "Dogs are sitting by the door", as (onset, vowel, stress).
STATEMENTS = {
    "01": [("k", "I", 1), ("z", "a", 0), ("t", "O", 1), ("k", "I", 0), ("b", "a", 1), ("D", "@", 0), ("d", "O", 1)],
    "02": [("d", "O", 1), ("z", "a", 0), ("s", "I", 1), ("t", "I", 0), ("b", "a", 1), ("D", "@", 0), ("d", "O", 1)],
}


@dataclass(frozen=True)
class Prosody:
    f0: float        # pitch level, ratio to the speaker's neutral
    range: float     # accent size, semitones
    rate: float      # speaking rate, ratio
    energy: float    # level, dB
    oq: float        # glottal open quotient: low = tense/bright, high = lax/breathy
    breath: float    # aspiration noise mix
    jitter: float    # random pitch perturbation, ratio
    tremor: float    # 5-7 Hz pitch tremor depth, semitones
    final: float     # phrase-final pitch movement, semitones (+ rise, - fall)


EMOTION_PROSODY = {
    "neutral":   Prosody(1.00, 2.0, 1.00, 0.0, 0.55, 0.05, 0.004, 0.0, -2.0),
    "calm":      Prosody(0.94, 1.2, 0.82, -5.0, 0.65, 0.14, 0.003, 0.0, -3.0),
    "happy":     Prosody(1.28, 6.0, 1.12, 4.0, 0.45, 0.04, 0.008, 0.0, 1.5),
    "sad":       Prosody(0.86, 0.8, 0.70, -7.0, 0.70, 0.22, 0.010, 0.3, -4.0),
    "angry":     Prosody(1.22, 4.5, 1.18, 9.0, 0.30, 0.02, 0.014, 0.0, -4.0),
    "fearful":   Prosody(1.42, 3.0, 1.32, 1.0, 0.50, 0.16, 0.020, 1.0, 2.5),
    "disgust":   Prosody(0.90, 3.5, 0.74, 1.0, 0.42, 0.10, 0.010, 0.0, -6.0),
    "surprised": Prosody(1.36, 8.0, 1.00, 3.0, 0.48, 0.06, 0.006, 0.0, 7.0),
}
STRONG = 1.6  # strong intensity scales the departure from neutral


@dataclass(frozen=True)
class Speaker:
    actor: int
    f0: float
    tract: float   # formant scale (shorter tract -> higher formants)
    tempo: float
    quirks: dict   # per-emotion personal scaling of the departure from neutral


def make_speaker(actor: int, seed: int) -> Speaker:
    rng = np.random.default_rng([seed, actor])
    male = actor % 2 == 1
    f0 = rng.uniform(100, 140) if male else rng.uniform(180, 235)
    tract = (1.0 if male else 1.16) * rng.uniform(0.95, 1.05)
    quirks = {e: float(rng.uniform(0.6, 1.3)) for e in EMOTION_PROSODY}
    return Speaker(actor, f0, tract, rng.uniform(0.9, 1.1), quirks)


def _blend(emotion: str, strength: float) -> Prosody:
    base, emo = EMOTION_PROSODY["neutral"], EMOTION_PROSODY[emotion]
    return Prosody(*[b + strength * (e - b) for b, e in zip(vars(base).values(), vars(emo).values())])


def _resonator(freq: float, bw: float) -> tuple[np.ndarray, np.ndarray]:
    r = np.exp(-np.pi * bw / SR)
    a = np.array([1.0, -2 * r * np.cos(2 * np.pi * freq / SR), r * r])
    return np.array([a.sum()]), a  # unit gain at DC keeps levels comparable


def synthesize(speaker: Speaker, emotion: str, strong: bool, statement: str, rng: np.random.Generator) -> np.ndarray:
    strength = speaker.quirks[emotion] * (STRONG if strong else 1.0)
    p = _blend(emotion, strength)
    syllables = STATEMENTS[statement]
    rate = max(0.4, p.rate * speaker.tempo * rng.uniform(0.95, 1.05))
    # segment plan at the 10 ms control rate: (onset frames, vowel frames) per syllable
    plan, vowel_track, voiced, accents = [], [], [], []
    for onset, vowel, stress in syllables:
        n_on = int(round(rng.uniform(4, 7) / rate)) if onset else 0
        n_v = int(round(rng.uniform(11, 15) * (1.35 if stress else 1.0) / rate))
        plan.append((onset, n_on, len(vowel_track)))
        vowel_track += [VOWELS[vowel]] * (n_on + n_v)
        voiced += [0.0] * n_on + [1.0] * n_v
        accents.append((len(voiced) - n_v // 2, stress))
    n = len(voiced)
    t = np.arange(n) / n
    # pitch contour in semitones around the speaker's level
    st = -1.5 * t + p.final * np.clip((t - 0.7) / 0.3, 0, 1)
    for centre, stress in accents:
        st += (p.range * (1.0 if stress else 0.35)) * np.exp(-0.5 * ((np.arange(n) - centre) / 6.0) ** 2)
    st += p.tremor * np.sin(2 * np.pi * rng.uniform(5, 7) * np.arange(n) / 100)
    f0 = speaker.f0 * p.f0 * 2 ** (st / 12) * (1 + p.jitter * rng.standard_normal(n))
    # sample-rate source: Rosenberg glottal pulses, differentiated (lip radiation)
    f0_s = np.repeat(f0, FRAME)
    phase = np.cumsum(f0_s / SR) % 1.0
    oq = np.clip(p.oq, 0.2, 0.9)
    tp = 0.66 * oq
    flow = np.where(phase < tp, 0.5 * (1 - np.cos(np.pi * phase / tp)),
                    np.where(phase < oq, np.cos(0.5 * np.pi * (phase - tp) / (oq - tp)), 0.0))
    source = np.diff(flow, prepend=0.0) * (SR / speaker.f0 / 20)
    aspiration = rng.standard_normal(source.size) * p.breath * (0.3 + flow)
    voicing = np.repeat(np.convolve(voiced, np.ones(3) / 3, mode="same"), FRAME)
    excitation = voicing * (source * (1 - p.breath) + aspiration)
    # time-varying formant cascade, coefficients updated every frame, filter state carried
    out = np.empty_like(excitation)
    formants = np.array(vowel_track) * speaker.tract
    formants = np.apply_along_axis(lambda c: np.convolve(np.pad(c, 4, mode="edge"), np.ones(9) / 9, "valid"), 0, formants)
    states = [np.zeros(2) for _ in range(4)]
    for i in range(n):
        seg = excitation[i * FRAME:(i + 1) * FRAME]
        for k, (freq, bw) in enumerate(list(zip(formants[i], (80, 100, 140))) + [(3500 * speaker.tract, 250)]):
            b, a = _resonator(freq, bw)
            seg, states[k] = lfilter(b, a, seg, zi=states[k])
        out[i * FRAME:(i + 1) * FRAME] = seg
    # consonant noise bursts
    for onset, n_on, start in plan:
        kind, centre = CONSONANTS[onset]
        if not kind:
            continue
        length = n_on * FRAME
        noise = rng.standard_normal(length)
        b, a = _resonator(centre * speaker.tract, centre * 0.4)
        noise = lfilter(b, a, noise) * 0.15
        env = np.ones(length)
        if kind == "stop":
            env[: length // 2] = 0.0
            env[length // 2:] = np.exp(-np.linspace(0, 6, length - length // 2))
        out[start * FRAME:start * FRAME + length] += noise * env
    out *= 0.08 * 10 ** (p.energy / 20) / (np.abs(out).max() + 1e-9) * np.sqrt(len(syllables))
    lead, tail = (np.zeros(int(SR * rng.uniform(0.25, 0.5))) for _ in range(2))
    wav = np.concatenate([lead, out, tail])
    wav += rng.standard_normal(wav.size) * 10 ** (-55 / 20)
    return np.clip(wav, -0.99, 0.99).astype(np.float32)


def file_names(actors: int) -> list[tuple[int, str, str, str, str]]:
    """(actor, emotion code, intensity code, statement, repetition) in RAVDESS's design."""
    out = []
    for actor in range(1, actors + 1):
        for emo in EMOTIONS:
            for inten in (("01",) if emo == "01" else ("01", "02")):
                for stmt in ("01", "02"):
                    for rep in ("01", "02"):
                        out.append((actor, emo, inten, stmt, rep))
    return out


def generate(dest: Path, actors: int = 8, seed: int = 0) -> int:
    """Write the demo speech corpus; files already there are kept (generation is deterministic)."""
    if not 2 <= actors <= 24:
        raise ValueError(f"demo actors must be within 2..24 (RAVDESS naming), got {actors}")
    speakers = {a: make_speaker(a, seed) for a in range(1, actors + 1)}
    names = file_names(actors)
    for actor, emo, inten, stmt, rep in tqdm(names, desc="demo speech (synthetic)", unit="file"):
        path = dest / f"Actor_{actor:02d}" / f"03-01-{emo}-{inten}-{stmt}-{rep}-{actor:02d}.wav"
        if path.exists():
            continue
        rng = np.random.default_rng([seed, zlib.crc32(path.name.encode())])
        wav = synthesize(speakers[actor], EMOTIONS[emo], inten == "02", stmt, rng)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.wav")
        sf.write(tmp, wav, SR, subtype="PCM_16")
        tmp.replace(path)
    (dest / "SYNTHETIC.txt").write_text(
        "This corpus is SYNTHETIC: emoforge's demo speech, generated by a source-filter synthesizer.\n"
        "It follows RAVDESS's layout and naming only; it is not RAVDESS.\n")
    return len(names)
