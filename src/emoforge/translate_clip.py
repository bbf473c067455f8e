"""`emoforge translate IN --to EMOTION -o OUT.wav`: one recording through a trained WORLD converter."""
from __future__ import annotations

from pathlib import Path

import soundfile as sf

from . import convert
from .features.audio import load_audio
from .features.world import analyze, synthesize

MIN_SECONDS, MAX_SECONDS = 0.3, 30.0
# Without --model: the first of these that the workflow has trained, in any corpus.
PREFERRED = ("world_mlp", "prosody_baseline")


def default_model(models: Path = Path("data/models/translate")) -> Path:
    for variant in PREFERRED:
        found = sorted(models.glob(f"*/{variant}/model.pt"))
        if found:
            return found[0]
    raise FileNotFoundError(f"no trained WORLD converter under {models}/<corpus>/{{{','.join(PREFERRED)}}}/: "
                            "run the workflow first (make demo), or give --model")


def read_clip(path: Path, sample_rate: int):
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise ValueError(f"{path} is not audio that libsndfile can read ({e})") from None
    if not MIN_SECONDS <= info.duration <= MAX_SECONDS:
        raise ValueError(f"{path} lasts {info.duration:.2f} s; emoforge translates single utterances of "
                         f"{MIN_SECONDS}-{MAX_SECONDS:.0f} s: cut it first")
    return load_audio(path, sample_rate)


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
    audio = read_clip(source, model["sample_rate"])
    world = analyze(audio, model["sample_rate"])
    converted = audio
    if converter.resynthesises:
        converted = synthesize(converter.convert(world, source_emotion, target))
    output.parent.mkdir(parents=True, exist_ok=True)
    sf.write(output, converted, model["sample_rate"], subtype="PCM_16")
    return model_path
