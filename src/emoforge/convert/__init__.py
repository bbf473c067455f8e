"""Emotion converters that work on WORLD features, one registry row each.

A converter learns from training pairs (the same speaker and sentence in two emotions) and
turns a source clip's WORLD features into the target emotion's; the runner resynthesises
and measures every variant the same way (emoforge.train.translate_world)."""
from __future__ import annotations

import importlib
from pathlib import Path

# name -> "module:class" in this package, imported on use (the workflow reads the names while
# it parses; the classes bring in torch and pyworld)
CONVERTERS = {
    "no_conversion": "prosody:NoConversion",
    "prosody_baseline": "prosody:ProsodyBaseline",
    "world_mlp": "spectral:SpectralMLP",
}


def get(variant: str):
    if variant not in CONVERTERS:
        raise KeyError(f"unknown WORLD converter {variant!r}; known: {sorted(CONVERTERS)}")
    module, name = CONVERTERS[variant].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


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
