"""`emoforge face-emotion` and `emoforge face`: a trained classifier, generator and SER model,
as files and as the MLflow registry's champions, and their errors."""
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import demo_speech
from emoforge import registry
from emoforge.cli import main
from emoforge.corpora import REGISTRY, write_index
from emoforge.features.extract import extract_images
from emoforge.labels import FACE_EMOTIONS, SPEECH_TO_FACE
from emoforge.train import face_classifier, faces, ser, ser_fit

CLASSIFIER_CFG = dict(seed=0, epochs=3, width=8, embed_dim=32, batch_size=32, lr=3e-3, weight_decay=5e-4,
                      val_fraction=0.1, device="cpu")
GAN_CFG = dict(seed=0, epochs=1, scored_per_class=10, model={"cgan": {"z_dim": 16, "width": 16}}, device="cpu")
SER_CFG = dict(seed=0, folds=4, epochs=1, lr=1e-3, weight_decay=0.01, lr_patience=1, patience=3,
               frames=200, batch_size=16, device="cpu", features={"sample_rate": 16000})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces_cli")
    store = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", store)
        mp.chdir(root)
        demo_faces = REGISTRY["demo_faces"]
        demo_faces.download(root / "raw_faces", {"train_per_class": 12, "test_per_class": 4})
        write_index(demo_faces.index(root / "raw_faces", {}), root / "faces.parquet")
        extract_images(root / "faces.parquet", root / "raw_faces", root / "feat_faces")
        classifier_dir = root / "models" / "face_classifier" / "demo_faces"
        face_classifier.fit(CLASSIFIER_CFG, root / "feat_faces", classifier_dir, "demo_faces")
        generator_dir = root / "models" / "faces" / "demo_faces" / "cgan"
        faces.fit(GAN_CFG, root / "feat_faces", classifier_dir / "classifier.pt", generator_dir,
                  "demo_faces", "cgan")
        demo_speech(root / "raw_speech", root / "speech.parquet", root / "feat_speech", ("r3_mfcc259",),
                    logmel=False)
        ser_dir = root / "models" / "ser" / "demo_speech" / "r3_cnn1d" / "speaker" / "fold0"
        ser_fit("r3_cnn1d")(SER_CFG, ser.Paths(root / "feat_speech", ser_dir), "demo_speech", "r3_cnn1d", 0)
    return {"root": root, "store": store, "classifier": classifier_dir / "classifier.pt",
            "generator": generator_dir / "generator.pt", "ser": ser_dir / "model.pt",
            "clip": next((root / "raw_speech").rglob("03-01-05-01-01-01-*.wav"))}


@pytest.fixture
def store(trained, monkeypatch):
    import mlflow
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["store"])
    mlflow.set_tracking_uri(trained["store"])
    monkeypatch.chdir(trained["root"])
    return trained


def _fails(caplog, *argv) -> str:
    caplog.clear()
    with pytest.raises(SystemExit) as e:
        main([*map(str, argv)])
    assert e.value.code == 1
    return caplog.text


def test_face_emotion_reads_any_image_and_lists_unreadable_ones(store, tmp_path, capsys, caplog):
    test_faces = sorted((store["root"] / "raw_faces" / "test").rglob("*.png"))
    big = tmp_path / "faces" / "big_rgb.jpg"
    big.parent.mkdir()
    Image.open(test_faces[0]).convert("RGB").resize((200, 160)).save(big)  # any size, colour
    (tmp_path / "faces" / "broken.png").write_bytes(b"\x89PNG not really")
    out = tmp_path / "seen.csv"
    main(["face-emotion", str(tmp_path / "faces"), *map(str, test_faces[:5]), "--model",
          str(store["classifier"]), "-o", str(out)])
    table = pd.read_csv(out)
    assert len(table) == 7 and table["emotion"].dropna().isin(FACE_EMOTIONS).all()
    probabilities = table[[f"p_{e}" for e in FACE_EMOTIONS]].dropna()
    assert len(probabilities) == 6 and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
    broken = table[table["path"].str.endswith("broken.png")]
    assert "not a readable image" in broken["error"].iloc[0]
    assert "not a readable image" in caplog.text
    assert "6 files" in capsys.readouterr().out


def test_face_emotion_errors_are_clear(store, tmp_path, caplog):
    face = next((store["root"] / "raw_faces" / "test").rglob("*.png"))
    assert "not an emoforge face-emotion classifier" in _fails(
        caplog, "face-emotion", face, "--model", store["generator"])
    assert "no such model file" in _fails(caplog, "face-emotion", face, "--model", tmp_path / "none.pt")
    assert "no image files" in _fails(caplog, "face-emotion", tmp_path, "--model", store["classifier"])
    assert "no face-emotion model is registered" in _fails(caplog, "face-emotion", face)


def test_face_draws_the_emotion_it_hears(store, tmp_path, capsys):
    png = tmp_path / "face.png"
    main(["face", str(store["clip"]), "-o", str(png), "--seed", "3", "--ser-model", str(store["ser"]),
          "--generator", str(store["generator"])])
    said = capsys.readouterr().out
    heard = said.split("heard ")[1].split()[0]
    assert f"a {SPEECH_TO_FACE[heard]} face" in said
    image = np.asarray(Image.open(png))
    assert image.shape == (192, 192) and image.std() > 0
    again = tmp_path / "again.png"
    main(["face", str(store["clip"]), "-o", str(again), "--seed", "3", "--ser-model", str(store["ser"]),
          "--generator", str(store["generator"])])
    assert again.read_bytes() == png.read_bytes()  # the seed picks the face


def test_face_errors_are_clear(store, tmp_path, caplog):
    noise = tmp_path / "noise.wav"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    args = ["-o", tmp_path / "x.png", "--ser-model", store["ser"]]
    assert "noise.wav" in _fails(caplog, "face", noise, *args, "--generator", store["generator"])
    assert "not an emoforge face generator" in _fails(
        caplog, "face", store["clip"], *args, "--generator", store["classifier"])
    assert "no face generator model is registered" in _fails(caplog, "face", store["clip"], *args)
    assert not (tmp_path / "x.png").exists()


def test_registered_champions_serve_both_commands(store, tmp_path, capsys):
    registry.register_champions({"face_emotion": [store["classifier"].with_name("metrics.json")],
                                 "faces": [store["generator"].with_name("metrics.json")]},
                                tmp_path / "registry.json")
    chosen = json.loads((tmp_path / "registry.json").read_text())
    assert chosen["faces"]["demo_faces"]["variant"] == "cgan" and chosen["face_emotion"]["demo_faces"]["version"]
    face = next((store["root"] / "raw_faces" / "test").rglob("*.png"))
    main(["face-emotion", str(face), "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["emotion"] in FACE_EMOTIONS
    png = tmp_path / "face.png"
    main(["face", str(store["clip"]), "-o", str(png), "--ser-model", str(store["ser"])])
    assert png.stat().st_size > 100


def test_speech_emotions_all_map_to_a_face_class():
    from emoforge.labels import CANONICAL
    assert set(SPEECH_TO_FACE) == set(CANONICAL) and set(SPEECH_TO_FACE.values()) <= set(FACE_EMOTIONS)
    assert SPEECH_TO_FACE["calm"] == "neutral"
