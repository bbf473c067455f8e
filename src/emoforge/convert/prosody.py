"""The classic baseline any converter must beat: per emotion pair, move log-F0 mean and
range, loudness and speaking rate by what training speakers did on average; keep the
spectral envelope's shape and resynthesise with WORLD. And the floor: no conversion."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..features.world import World


@dataclass(frozen=True)
class Prosody:
    """What the baseline reads off one clip, leading and trailing silence left out."""
    f0_mean: float   # mean voiced log-F0
    f0_std: float    # std of voiced log-F0
    loudness: float  # mean log envelope power
    frames: int

    @classmethod
    def of(cls, world: World) -> "Prosody":
        world = world.active()
        log_f0 = world.log_f0()
        voiced = log_f0[~np.isnan(log_f0)]
        if len(voiced) < 2:
            raise ValueError("a clip with fewer than 2 voiced frames has no pitch to convert")
        loudness = float(np.mean(np.log(world.envelope.mean(axis=1) + 1e-12)))
        return cls(float(voiced.mean()), float(voiced.std()), loudness, world.frames)


@dataclass(frozen=True)
class Shift:
    """Source -> target change, averaged over training pairs."""
    f0_offset: float = 0.0     # added to log-F0 (after scaling the range)
    f0_range: float = 1.0      # multiplies log-F0 deviations from the clip's mean
    loudness_offset: float = 0.0  # added to the log envelope power
    rate: float = 1.0          # target frames per source frame

    @classmethod
    def between(cls, sources: list[Prosody], targets: list[Prosody]) -> "Shift":
        def mean(values):
            return float(np.mean(values))
        return cls(
            f0_offset=mean([t.f0_mean - s.f0_mean for s, t in zip(sources, targets)]),
            f0_range=float(np.exp(mean([np.log(t.f0_std / s.f0_std) for s, t in zip(sources, targets)
                                        if s.f0_std > 0 and t.f0_std > 0] or [0.0]))),
            loudness_offset=mean([t.loudness - s.loudness for s, t in zip(sources, targets)]),
            rate=float(np.exp(mean([np.log(t.frames / s.frames) for s, t in zip(sources, targets)]))))

    def apply(self, world: World) -> World:
        log_f0 = world.log_f0()
        voiced = ~np.isnan(log_f0)
        centre = float(np.mean(log_f0[voiced])) if voiced.any() else 0.0
        moved = (log_f0 - centre) * self.f0_range + centre + self.f0_offset
        f0 = np.where(voiced, np.exp(np.nan_to_num(moved)), 0.0)
        envelope = world.envelope * np.exp(self.loudness_offset)
        return replace(world, f0=f0, envelope=envelope).stretched(self.rate)


def direction_key(direction: tuple[str, str]) -> str:
    """How model files name a (source, target) emotion pair: "sad->happy"."""
    return "->".join(direction)


def direction_of(key: str) -> tuple[str, str]:
    source, target = key.split("->")
    return source, target


class NoConversion:
    """The source itself: every metric's floor. Its audio is the source recording."""
    resynthesises = False
    reads = "world"

    def fit(self, pairs, checkpoint: Path | None = None) -> None:
        return None

    def convert(self, world: World, source: str, target: str) -> World:
        return world

    def directions(self) -> list[tuple[str, str]]:
        return []  # the source itself, whatever the emotions

    def describe(self) -> dict:
        return {}

    def state(self) -> dict:
        return {}

    @classmethod
    def from_state(cls, state: dict) -> "NoConversion":
        return cls()


class ProsodyBaseline:
    """One Shift per ordered (source, target) emotion pair seen in training."""
    resynthesises = True
    reads = "world"

    def __init__(self):
        self.shifts: dict[tuple[str, str], Shift] = {}

    def fit(self, pairs, checkpoint: Path | None = None) -> None:
        """pairs: (source World, target World, source emotion, target emotion)."""
        grouped: dict[tuple[str, str], tuple[list, list]] = {}
        for source, target, source_emotion, target_emotion in pairs:
            try:
                measured = Prosody.of(source), Prosody.of(target)
            except ValueError:  # a clip without pitch teaches nothing about pitch
                continue
            sources, targets = grouped.setdefault((source_emotion, target_emotion), ([], []))
            sources.append(measured[0])
            targets.append(measured[1])
        self.shifts = {key: Shift.between(*lists) for key, lists in grouped.items()}

    def convert(self, world: World, source: str, target: str) -> World:
        if (source, target) not in self.shifts:
            raise KeyError(f"no training pair went from {source!r} to {target!r}")
        return self.shifts[(source, target)].apply(world)

    def directions(self) -> list[tuple[str, str]]:
        """The (source, target) emotion pairs it learnt to convert."""
        return list(self.shifts)

    def describe(self) -> dict:
        return self.state()

    def state(self) -> dict:
        return {direction_key(direction): vars(shift) for direction, shift in self.shifts.items()}

    @classmethod
    def from_state(cls, state: dict) -> "ProsodyBaseline":
        baseline = cls()
        baseline.shifts = {direction_of(key): Shift(**values) for key, values in state.items()}
        return baseline
