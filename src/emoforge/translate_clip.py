"""`emoforge translate IN --to EMOTION -o OUT.wav`: one recording through a trained converter."""
from __future__ import annotations

from pathlib import Path

import soundfile as sf

from . import convert
from .features.audio import read_utterance

# Without --model: the first of these that the workflow has trained, in any corpus.
PREFERRED = ("world_mlp", "prosody_baseline")


def default_model(models: Path = Path("data/models/translate")) -> Path:
    for variant in PREFERRED:
        found = sorted(models.glob(f"*/{variant}/model.pt"))
        if found:
            return found[0]
    raise FileNotFoundError(f"no trained WORLD converter under {models}/<corpus>/{{{','.join(PREFERRED)}}}/: "
                            "run the workflow first (make demo), or give --model")


def translate_file(source: Path, output: Path, target: str, source_emotion: str = "neutral",
                   model_path: Path | None = None) -> Path:
    """Write `source` converted from `source_emotion` to `target`; returns the model file used."""
    model_path = model_path or default_model()
    converter, model = convert.load(model_path)
    directions = {tuple(pair) for pair in model["directions"]}
    known = model["emotions"]
    for name, emotion in (("--to", target), ("--from", source_emotion)):
        if directions and emotion not in known:
            raise ValueError(f"{name} {emotion!r}: this model knows {known}")
    if directions and (source_emotion, target) not in directions:
        raise ValueError(f"this model never learnt {source_emotion} -> {target}")
    audio = read_utterance(source, model["sample_rate"])
    converted = audio
    if converter.resynthesises:
        source_input = convert.read(converter, audio, model["sample_rate"])
        converted = convert.render(converter, source_input, source_emotion, target, model["sample_rate"])
    output.parent.mkdir(parents=True, exist_ok=True)
    sf.write(output, converted, model["sample_rate"], subtype="PCM_16")
    return model_path
