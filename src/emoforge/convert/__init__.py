"""Emotion converters that work on WORLD features, one registry row each.

A converter learns from training pairs (the same speaker and sentence in two emotions) and
turns a source clip's WORLD features into the target emotion's; the runner resynthesises
and measures every variant the same way (emoforge.train.translate_world)."""
from __future__ import annotations

from .prosody import NoConversion, ProsodyBaseline
from .spectral import SpectralMLP

CONVERTERS = {
    "no_conversion": NoConversion,
    "prosody_baseline": ProsodyBaseline,
    "world_mlp": SpectralMLP,
}


def get(variant: str):
    if variant not in CONVERTERS:
        raise KeyError(f"unknown WORLD converter {variant!r}; known: {sorted(CONVERTERS)}")
    return CONVERTERS[variant]
