"""Faces for users: the emotion on a face (`emoforge face-emotion`) and a face for the emotion
heard in a recording (`emoforge face`, R3's speech -> SER -> cGAN chain as one command).

Speech emotions map to FER-2013's seven face classes through SPEECH_TO_FACE (emoforge.labels):
calm is drawn as a neutral face, and corpus extras are drawn as the nearest face class
(excited -> happy, frustration -> angry, boredom -> neutral)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .labels import SPEECH_TO_FACE
from .predict import default_uri, expand

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
FACE_SIZE = 48


def read_face(path: Path) -> np.ndarray:
    """Any image as a 48x48 grayscale face in [-1, 1] (resized whole: crop faces beforehand)."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            gray = image.convert("L").resize((FACE_SIZE, FACE_SIZE), Image.Resampling.BILINEAR)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"{path}: not a readable image ({e})") from None
    return np.asarray(gray, dtype=np.float32) / 127.5 - 1.0


def classify_images(model_file: Path, paths: list[Path], skip_unreadable: bool = False) -> list[dict]:
    """One row per image: path, the emotion on the face and every class's probability; with
    skip_unreadable, an unreadable image gets a row with its `error` instead."""
    from .evaluate.faces import class_scores, load_classifier

    classifier, labels = load_classifier(model_file)
    faces, failed = {}, {}
    for path in paths:
        try:
            faces[path] = read_face(path)
        except (FileNotFoundError, ValueError) as e:
            if not skip_unreadable:
                raise
            failed[path] = str(e)
    scores = class_scores(classifier, np.stack(list(faces.values())), torch.device("cpu")) if faces else []
    seen = {p: {"emotion": labels[int(row.argmax())],
                **{f"p_{label}": round(float(v), 4) for label, v in zip(labels, row)}}
            for p, row in zip(faces, scores)}
    return [{"path": str(p), **(seen[p] if p in seen else {"error": failed[p]})} for p in paths]


def model_file(given: str | None, task: str, kind: str, filename: str, option: str) -> Path:
    """A model file from a path, a models:/ URI or, with none given, the one registered champion."""
    if given and not given.startswith("models:/"):
        path = Path(given)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model file")
        return path
    from . import tracking

    return tracking.registered_model_file(given or default_uri(task, kind, option), filename)


def face_class(speech_emotion: str) -> str:
    if speech_emotion not in SPEECH_TO_FACE:
        raise ValueError(f"no face class for the speech emotion {speech_emotion!r}")
    return SPEECH_TO_FACE[speech_emotion]


def face_for_speech(recording: Path, out: Path, seed: int = 0, ser_model: str | None = None,
                    generator: str | None = None, scale: int = 4) -> dict:
    """Hear the recording's emotion with a SER model, draw a face of it, write a PNG."""
    from PIL import Image

    from . import predict
    from .train.faces import generate

    ser_file = predict.resolve(ser_model)
    heard = predict.load(ser_file).predict_files([recording])[0]
    face_emotion = face_class(heard["emotion"])
    generator_file = model_file(generator, "faces", "face generator", "generator.pt", "--generator")
    face = generate(generator_file, [face_emotion], seed)[0]  # checks that it is a face generator
    out.parent.mkdir(parents=True, exist_ok=True)
    size = FACE_SIZE * max(1, scale)
    Image.fromarray(face).resize((size, size), Image.Resampling.NEAREST).save(out)
    return {"path": str(recording), "heard": heard["emotion"], "face": face_emotion,
            "p_heard": heard[f"p_{heard['emotion']}"], "png": str(out), "seed": seed}


def face_paths(inputs: list[str]) -> list[Path]:
    return expand(inputs, IMAGE_SUFFIXES, "image")
