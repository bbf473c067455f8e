"""Emotion converters, one registry row each.

A converter learns from training pairs (the same speaker and sentence in two emotions) and
turns a source clip into the target emotion. Most read WORLD features (`reads = "world"`) and
return WORLD features, which are resynthesised; R1's reads the waveform in its own way
(`reads = "audio"`, `read()`) and returns a waveform at its own `sample_rate`. The runner
measures every variant the same way (emoforge.train.translate_world). `fit(pairs, checkpoint)`:
a converter that trains for long resumes from `checkpoint`; the others fit in seconds and ignore it."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..features.audio import resample
from ..features.world import analyze, synthesize

@dataclass(frozen=True)
class Converter:
    # "module:class" in this package, imported on use: the workflow reads the registry while
    # it parses, and the classes bring in torch and pyworld
    cls: str
    trains_on_gpu: bool = False  # the workflow gives its training job a GPU when there is one


CONVERTERS = {
    "no_conversion": Converter("prosody:NoConversion"),
    "prosody_baseline": Converter("prosody:ProsodyBaseline"),
    "world_mlp": Converter("spectral:SpectralMLP"),
    "r1_unet8": Converter("r1:R1UNetConverter", trains_on_gpu=True),
}


def get(variant: str):
    if variant not in CONVERTERS:
        raise KeyError(f"unknown converter {variant!r}; known: {sorted(CONVERTERS)}")
    module, name = CONVERTERS[variant].cls.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def read(converter, audio: np.ndarray, sample_rate: int, world=None):
    """What `converter` converts, from a waveform at sample_rate (`world`: its WORLD analysis
    when the caller has it already)."""
    if converter.reads == "world":
        return world if world is not None else analyze(audio, sample_rate)
    return converter.read(resample(audio, sample_rate, converter.sample_rate))


def render(converter, source, source_emotion: str, target_emotion: str, sample_rate: int) -> np.ndarray:
    """The converted waveform at sample_rate."""
    converted = converter.convert(source, source_emotion, target_emotion)
    if converter.reads == "world":
        return synthesize(converted)
    return resample(converted, converter.sample_rate, sample_rate)


def copy_synthesis(converter, source, audio: np.ndarray, world_copy: np.ndarray,
                   sample_rate: int) -> np.ndarray:
    """The recording (`audio`) through the converter's own analysis and vocoder, unchanged: the
    best its output can sound. `world_copy` is the recording's WORLD copy-synthesis, returned
    as it is for WORLD converters; a converter that does not resynthesise returns `audio`."""
    if not converter.resynthesises:
        return audio
    if converter.reads == "world":
        return world_copy
    return resample(converter.resynthesise(source), converter.sample_rate, sample_rate)


def save(converter, variant: str, sample_rate: int, path: Path) -> None:
    """A model file `emoforge translate` can use: tensors and plain types only."""
    import torch
    path.parent.mkdir(parents=True, exist_ok=True)
    directions = sorted(converter.directions())
    emotions = sorted({e for pair in directions for e in pair})
    torch.save({"task": "translate", "kind": "world", "variant": variant, "sample_rate": sample_rate,
                "directions": [list(pair) for pair in directions], "emotions": emotions,
                "state": converter.state()}, path)


def load(path: Path):
    """(converter, model file contents) from a file written by save(); anything else is refused."""
    from ..train.common import load_state
    model = load_state(path)
    if not isinstance(model, dict) or model.get("task") != "translate" or model.get("kind") != "world":
        what = model.get("task") if isinstance(model, dict) and model.get("task") else "something else"
        raise ValueError(f"{path} is not an emoforge WORLD translation model (it holds {what}); give one "
                         "the translate_world rule wrote: data/models/translate/<corpus>/<variant>/model.pt")
    return get(model["variant"]).from_state(model["state"]), model
