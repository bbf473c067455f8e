"""`emoforge predict CLIP...`: the emotion a trained SER model hears in each recording.

A SER model file (data/models/ser/<corpus>/<variant>/<protocol>/fold<k>/model.pt) holds tensors
and plain types only: the weights, the labels, the arguments that rebuild the network, and how
its inputs were made (audio settings, normalisation statistics from the training speakers).
save() writes it, load() reads it back and refuses anything else.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import models
from .features.audio import VECTORS, MelConfig, read_utterance, trim_silence
from .registry import CHAMPION, registered_name
from .train.common import save_atomic

FORMAT = "emoforge-ser/1"
# Per-speaker normalisation (eGeMAPS z-scores, log-mel `norm: speaker`) needs a speaker's
# unlabelled clips: predict treats the clips of one call as one speaker and wants this many.
MIN_SPEAKER_CLIPS = 8
TTA_VIEWS = 5


def save(path: Path, variant: str, labels: list[str], config: dict, inputs: dict, *,
         network: torch.nn.Module | None = None, build_args: dict | None = None,
         linear=None) -> None:
    """A torch network (with the keyword arguments that build it) or a fitted scikit-learn
    linear model, stored as its coefficients."""
    state = {"format": FORMAT, "task": "ser", "variant": variant, "labels": list(labels),
             "config": config, "inputs": inputs}
    if network is not None:
        state |= {"network": network.state_dict(), "build_args": build_args}
    else:
        state["linear"] = {"coef": torch.from_numpy(linear.coef_.astype(np.float32)),
                           "intercept": torch.from_numpy(linear.intercept_.astype(np.float32))}
    save_atomic(state, path)


@dataclass
class Recognizer:
    variant: str
    labels: list[str]
    audio: MelConfig
    inputs: dict
    network: torch.nn.Module | None
    linear: dict | None

    @property
    def speaker_normalised(self) -> bool:
        return self.inputs["norm"] == "speaker"

    def features(self, paths: list[Path], audio: list[np.ndarray]) -> list[np.ndarray]:
        """Each clip as the model reads it, before any normalisation that spans clips (R2's and
        R3's recipes read the file themselves, as their code did)."""
        if self.inputs["kind"] == "logmel":
            from .features.engine import LogMelEngine

            # the extraction stage's own engine: the frames the model was trained on, bit for bit
            engine = LogMelEngine(self.audio, device="cpu", threads=2 * torch.get_num_threads())
            mels = [m.astype(np.float32) for m in engine(audio)]
            return [trim_silence(m) for m in mels] if self.inputs["trim_silence"] else mels
        recipe = VECTORS[self.inputs["name"]]
        return [np.asarray(recipe(p, a, self.audio), np.float32) for p, a in zip(paths, audio)]

    def normalise(self, feats: list[np.ndarray]) -> list[np.ndarray]:
        """As training normalised: the same functions, with this call's clips as one speaker."""
        from .train.classic import per_speaker_z
        from .train.inputs import NORMS

        norm = self.inputs["norm"]
        if norm == "train":
            return [(np.nan_to_num(v) - self.inputs["mu"].numpy()) / self.inputs["sd"].numpy() for v in feats]
        one_speaker = np.zeros(len(feats))
        if self.inputs["kind"] == "logmel":
            return NORMS[norm](feats, one_speaker)
        return list(per_speaker_z(np.nan_to_num(np.stack(feats)), one_speaker))

    def probabilities(self, paths: list[Path], audio: list[np.ndarray]) -> np.ndarray:
        """(clips, labels) class probabilities."""
        if self.speaker_normalised and len(audio) < MIN_SPEAKER_CLIPS:
            raise ValueError(f"{self.variant} normalises each speaker over their clips: give at least "
                             f"{MIN_SPEAKER_CLIPS} clips of one speaker in one call (got {len(audio)})")
        x = self.normalise(self.features(paths, audio))
        if self.linear is not None:
            from .models.classic import softmax

            logits = np.stack(x) @ self.linear["coef"].numpy().T + self.linear["intercept"].numpy()
            return softmax(logits.astype(np.float32)).astype(np.float32)
        return self._network_probabilities(x)

    def _network_probabilities(self, x: list[np.ndarray]) -> np.ndarray:
        """Mean probabilities over crops spread along each clip, as the test_tta metric; one pass
        where the model reads whole clips (or whole-clip images)."""
        from .train.inputs import crop, resize_image

        self.network.eval()
        out = []
        with torch.no_grad():
            for clip in x:
                if self.inputs.get("resize"):
                    batch = torch.from_numpy(resize_image(clip, int(self.inputs["resize"]))[None])
                elif self.inputs.get("inference") == "whole":
                    batch = torch.from_numpy(clip[None].astype(np.float32))
                elif self.inputs["kind"] == "logmel":
                    frames = self.inputs["frames"]
                    views = [crop(clip, frames, None, j / (TTA_VIEWS - 1)) for j in range(TTA_VIEWS)]
                    batch = torch.from_numpy(np.stack(views).astype(np.float32))
                else:
                    batch = torch.from_numpy(clip[None].astype(np.float32))
                logits = self.network(batch)
                logits = logits["emotion"] if isinstance(logits, dict) else logits
                out.append(torch.softmax(logits.float(), 1).mean(0).numpy())
        return np.stack(out)

    def predict_files(self, paths: list[Path], skip_unreadable: bool = False) -> list[dict]:
        """One row per file: the path, the emotion heard and every label's probability. With
        skip_unreadable, a file that cannot be read gets a row with its `error` instead."""
        readable, audio, failed = [], [], {}
        for path in paths:
            try:
                audio.append(read_utterance(path, self.audio.sample_rate))
                readable.append(path)
            except (FileNotFoundError, ValueError) as e:
                if not skip_unreadable:
                    raise
                failed[path] = str(e)
        probs = self.probabilities(readable, audio) if readable else []
        heard = {p: {"emotion": self.labels[int(row.argmax())],
                     **{f"p_{label}": round(float(v), 4) for label, v in zip(self.labels, row)}}
                 for p, row in zip(readable, probs)}
        return [{"path": str(p), **(heard[p] if p in heard else {"error": failed[p]})} for p in paths]


def load(path: Path) -> Recognizer:
    from .train.common import load_state

    state = load_state(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        what = state.get("task", "an unknown layout") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path} is not an emoforge SER model (it holds {what}); give a model.pt "
                         "from data/models/ser/<corpus>/<variant>/<protocol>/fold<k>/ or a registered model")
    network = None
    if "network" in state:
        network = models.get(state["variant"], "ser").build(**state["build_args"])
        network.load_state_dict(state["network"])
    audio = MelConfig.from_params(state["config"].get("features", {}))
    return Recognizer(state["variant"], state["labels"], audio, state["inputs"], network,
                      state.get("linear"))


AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3"}


def expand(inputs: list[str], suffixes=AUDIO_SUFFIXES, kind: str = "audio") -> list[Path]:
    """Files as given; folders as every file below them with one of `suffixes`, sorted."""
    paths = []
    for given in map(Path, inputs):
        if given.is_dir():
            paths += sorted(p for p in given.rglob("*") if p.suffix.lower() in suffixes)
        else:
            paths.append(given)
    if not paths:
        raise FileNotFoundError(f"no {kind} files in {', '.join(map(str, inputs))}")
    return paths


def trained_model(corpus: str, variant: str | None, models_dir: Path = Path("data/models/ser")) -> Path:
    """The model.pt the workflow trained for a corpus (and variant): the fold the registry
    would choose, by validation UA."""
    from .registry import champions, fold_rows

    pattern = f"{variant or '*'}/*/fold*/metrics.json"
    rows = fold_rows(sorted((models_dir / corpus).glob(pattern)))
    chosen = champions(rows).get(corpus)
    if chosen is None:
        raise FileNotFoundError(f"no trained SER model under {models_dir / corpus}/{variant or '<variant>'}/: "
                                "run the workflow for that corpus first")
    return Path(chosen["metrics_path"]).with_name("model.pt")


def resolve(model: str | None, corpus: str | None = None, variant: str | None = None) -> Path:
    """A model file from a path, a registry URI (models:/NAME@ALIAS, models:/NAME/VERSION), a
    corpus (and variant) the workflow trained or, with none given, the champion of the one
    registered emoforge SER model."""
    if corpus:
        return trained_model(corpus, variant)
    if model and not model.startswith("models:/"):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model file")
        return path
    from . import tracking

    return tracking.registered_model_file(model or default_uri("ser", "SER", "--model"), "model.pt")


def default_uri(task: str, kind: str, option: str) -> str:
    """models:/emoforge-<task>-<corpus>@champion when exactly one corpus has a champion."""
    from . import tracking

    names = tracking.registered_models(registered_name(task, ""))
    if not names:
        raise FileNotFoundError(f"no {kind} model is registered in {tracking.tracking_uri()}: run "
                                f"the workflow (make demo) or give {option}")
    if len(names) > 1:
        raise ValueError(f"several {kind} models are registered ({', '.join(names)}): pick one "
                         f"with {option} models:/NAME@{CHAMPION}")
    return f"models:/{names[0]}@{CHAMPION}"

