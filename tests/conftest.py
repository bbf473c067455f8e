import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMOFORGE_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared(sub: str) -> Path:
    path = SHARED / sub
    if not path.exists():
        pytest.skip(f"{path} not present (real corpora live in ../shared/data)")
    return path


def tone(seconds=1.0, sr=16000, channels=1, freq=220.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, 1) if channels > 1 else x


def write_wav(path: Path, seconds=1.0, sr=16000, channels=1, fmt="WAV") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, sr, channels), sr, format=fmt, subtype="PCM_16")
    return path


def demo_speech(raw: Path, index: Path, features: Path, vectors: tuple[str, ...] = (),
                logmel: bool = True, actors: int = 4) -> None:
    """The synthetic speech corpus (RAVDESS layout) in `raw`, its index, and its log-mel shards
    and the named vectors in `features`: what the SER tests train on."""
    from emoforge.corpora import REGISTRY, write_index
    from emoforge.features.audio import MelConfig
    from emoforge.features.extract import extract_audio, extract_vectors

    corpus = REGISTRY["demo_speech"]
    corpus.download(raw, {"actors": actors})
    write_index(corpus.index(raw, {}), index)
    if logmel:
        extract_audio(index, raw, features, MelConfig())
    if vectors:
        extract_vectors(index, raw, features, MelConfig(), vectors)


@pytest.fixture(autouse=True)
def _isolated_mlflow(tmp_path, monkeypatch):
    """Every test logs into its own SQLite store, never the developer's mlflow.db."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)  # an earlier test's set_tracking_uri would outrank the variable
    monkeypatch.chdir(tmp_path)
