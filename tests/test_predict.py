"""`emoforge predict`: saved SER models, MLflow models and the registry's champions."""
import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch

from conftest import demo_speech
from emoforge import predict, registry
from emoforge.cli import main
from emoforge.train import ser, ser_fit
from emoforge.train.inputs import LogMelInputs

CFG = dict(seed=0, folds=4, epochs=2, lr=1e-3, weight_decay=0.01, lr_patience=1, patience=3,
           frames=200, batch_size=16, device="cpu", features={"sample_rate": 16000})
VARIANTS = ("cnn_logmel", "egemaps_linear", "r3_cnn1d", "cnn_statspool")
VARIANT_CFG = {"cnn_statspool": {"inference": "whole", "norm": "speaker"}}  # from its recipe


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Fold 0 of three variants on a 4-speaker demo corpus, logged to the module's own store."""
    root = tmp_path_factory.mktemp("predict")
    store = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", store)
        mp.chdir(root)
        demo_speech(root / "raw", root / "index.parquet", root / "features", ("egemaps", "r3_mfcc259"))
        runs = {}
        for variant in VARIANTS:
            out = root / "models" / "demo_speech" / variant / "speaker" / "fold0"
            cfg = CFG | VARIANT_CFG.get(variant, {})
            result = ser_fit(variant)(cfg, ser.Paths(root / "features", out), "demo_speech", variant, 0)
            runs[variant] = (result, out)
    index = pd.read_parquet(root / "index.parquet")
    return {"root": root, "store": store, "runs": runs, "index": index}


def fold_clips(trained, variant):
    """The test speaker's clips, in the order of the fold's saved predictions."""
    result, out = trained["runs"][variant]
    saved = np.load(out / "predictions.npz")
    paths = trained["index"].set_index("item_id").loc[saved["item_id"], "path"]
    return [trained["root"] / "raw" / p for p in paths], saved


@pytest.mark.parametrize("variant", ["egemaps_linear", "r3_cnn1d", "cnn_statspool"])
def test_predict_gives_the_probabilities_the_test_fold_had(trained, variant):
    """cnn_statspool: the fold scored batches of whole clips padded to the longest; predict reads
    each file alone, so this also checks that padding does not change a clip's score."""
    clips, saved = fold_clips(trained, variant)
    recognizer = predict.load(trained["runs"][variant][1] / "model.pt")
    rows = recognizer.predict_files(clips)
    got = np.array([[row[f"p_{label}"] for label in recognizer.labels] for row in rows])
    expected = saved["scores"]
    if variant != "egemaps_linear":  # a network's saved scores are logits
        expected = torch.softmax(torch.from_numpy(expected), 1).numpy()
    assert np.abs(got - expected).max() < 2e-3
    assert [row["emotion"] for row in rows] == [recognizer.labels[i] for i in expected.argmax(1)]


def test_predict_reads_a_log_mel_model_as_its_test_time_augmentation(trained):
    clips, saved = fold_clips(trained, "cnn_logmel")
    recognizer = predict.load(trained["runs"]["cnn_logmel"][1] / "model.pt")
    inputs = LogMelInputs(trained["root"] / "features", CFG)
    order = inputs.manifest.reset_index().set_index("item_id").loc[saved["item_id"], "index"].to_numpy()
    expected = ser._predict_tta(recognizer.network, inputs, order, 16, torch.device("cpu"))
    rows = recognizer.predict_files(clips)
    got = np.array([[row[f"p_{label}"] for label in recognizer.labels] for row in rows])
    assert np.abs(got - expected).max() < 2e-3


def test_champions_are_chosen_on_validation_speakers_only():
    rows = [
        # b has the better test UA, a the better validation UA: a wins
        {"corpus": "c", "variant": "a", "protocol": "speaker", "fold": 0, "val_ua": 0.6, "test_ua": 0.3, "model_uri": "m0"},
        {"corpus": "c", "variant": "a", "protocol": "speaker", "fold": 1, "val_ua": 0.7, "test_ua": 0.3, "model_uri": "m1"},
        {"corpus": "c", "variant": "b", "protocol": "speaker", "fold": 0, "val_ua": 0.5, "test_ua": 0.9, "model_uri": "m2"},
        # the random split's validation speakers are also training speakers: never chosen
        {"corpus": "c", "variant": "r", "protocol": "random", "fold": 0, "val_ua": 0.99, "test_ua": 0.9, "model_uri": "m3"},
    ]
    best = registry.champions(rows)
    assert best["c"]["model_uri"] == "m1" and best["c"]["variant_val_ua"] == pytest.approx(0.65)
    # trained on its validation speakers: nothing held out to compare, so it never wins a race
    trainval = [{"corpus": "c", "variant": "t", "protocol": "speaker", "fold": k, "val_ua": None,
                 "test_ua": 0.99, "model_uri": f"t{k}"} for k in (1, 0)]
    assert registry.champions(rows + trainval)["c"]["model_uri"] == "m1"
    alone = registry.champions(trainval)["c"]  # asked for by name (predict --variant t)
    assert alone["model_uri"] == "t0" and alone["variant_val_ua"] is None


def test_register_then_predict_from_the_registry(trained, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained["store"])
    metrics = [out / "metrics.json" for _, out in trained["runs"].values()]
    main(["register", "--out", "registry.json", "--ser", *map(str, metrics)])
    chosen = json.loads(open("registry.json").read())["ser"]["demo_speech"]
    best_variant = max(VARIANTS, key=lambda v: trained["runs"][v][0]["val/ua"])
    assert chosen["variant"] == best_variant and chosen["version"] == "1"
    main(["register", "--out", "registry.json", "--ser", *map(str, metrics)])
    client = mlflow.MlflowClient()
    assert len(client.search_model_versions("name = 'emoforge-ser-demo_speech'")) == 1  # nothing new to register
    assert client.get_model_version_by_alias("emoforge-ser-demo_speech", "champion").version == 1

    clips, _ = fold_clips(trained, best_variant)
    capsys.readouterr()
    main(["predict", *map(str, clips[:8]), "--json"])  # no --model: the one registered champion
    rows = json.loads(capsys.readouterr().out)
    direct = predict.load(trained["runs"][best_variant][1] / "model.pt").predict_files(clips[:8])
    assert rows == direct

    # the same model through MLflow's own pyfunc loader (a model from code: no pickle)
    served = mlflow.pyfunc.load_model("models:/emoforge-ser-demo_speech@champion")
    table = served.predict(pd.DataFrame({"path": [str(c) for c in clips[:8]]}))
    assert list(table["emotion"]) == [row["emotion"] for row in direct]


def test_predict_prints_a_table(trained, capsys):
    clips, _ = fold_clips(trained, "r3_cnn1d")
    main(["predict", str(clips[0]), "--model", str(trained["runs"]["r3_cnn1d"][1] / "model.pt")])
    line = capsys.readouterr().out.strip()
    assert line.startswith(str(clips[0])) and line.split()[1] in predict.load(
        trained["runs"]["r3_cnn1d"][1] / "model.pt").labels


def _fails(caplog, *argv) -> str:
    caplog.clear()
    with pytest.raises(SystemExit) as e:
        main(["predict", *map(str, argv)])
    assert e.value.code == 1
    return caplog.text


def test_predict_errors_are_clear(trained, tmp_path, caplog):
    clips, _ = fold_clips(trained, "egemaps_linear")
    linear = trained["runs"]["egemaps_linear"][1] / "model.pt"
    assert "at least 8 clips of one speaker" in _fails(caplog, *clips[:3], "--model", linear)
    assert "--variant needs --corpus" in _fails(caplog, clips[0], "--variant", "r3_cnn1d")
    assert "no trained SER model" in _fails(caplog, clips[0], "--corpus", "demo_speech")  # none here
    other = tmp_path / "other.pt"
    torch.save({"task": "translate", "state": {}}, other)
    assert "not an emoforge SER model (it holds translate)" in _fails(caplog, clips[0], "--model", other)
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": predict.FORMAT, "payload": LogMelInputs}, pickled)
    assert "refusing to load" in _fails(caplog, clips[0], "--model", pickled)
    assert "no SER model is registered" in _fails(caplog, clips[0])  # this test's own empty store
    assert "not in the registry" in _fails(caplog, clips[0], "--model", "models:/nothing@champion")


def test_predict_reads_folders_any_rate_and_lists_unreadable_files_without_stopping(trained, tmp_path,
                                                                                    monkeypatch, caplog):
    import soundfile as sf
    import soxr
    clips, _ = fold_clips(trained, "r3_cnn1d")
    folder = tmp_path / "clips"
    (folder / "more").mkdir(parents=True)
    audio, rate = sf.read(clips[0])
    stereo = np.stack([audio, audio], 1)
    sf.write(folder / "a_stereo_44k.flac", soxr.resample(stereo, rate, 44100), 44100)
    sf.write(folder / "more" / "b.wav", audio, rate)
    (folder / "c_empty.wav").write_bytes(b"")
    (folder / "d_noise.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    (folder / "notes.txt").write_text("not audio, and not an audio name: left out")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "models").mkdir(parents=True)
    (tmp_path / "data" / "models" / "ser").symlink_to(trained["root"] / "models")
    main(["predict", str(folder), "--corpus", "demo_speech", "--variant", "r3_cnn1d", "-o", "heard.csv"])
    table = pd.read_csv("heard.csv")
    assert [Path(p).name for p in table["path"]] == ["a_stereo_44k.flac", "c_empty.wav", "d_noise.wav", "b.wav"]
    assert table["emotion"].notna().tolist() == [True, False, False, True]
    assert table["error"].notna().tolist() == [False, True, True, False]
    probabilities = table.filter(like="p_").to_numpy()
    assert np.allclose(probabilities[[0, 3]].sum(1), 1, atol=1e-3)
    assert "c_empty.wav is not audio that libsndfile can read" in caplog.text


def test_a_corpus_model_is_the_fold_the_registry_would_choose(trained):
    best = max(VARIANTS, key=lambda v: trained["runs"][v][0]["val/ua"])
    assert predict.trained_model("demo_speech", None, trained["root"] / "models") == \
        trained["runs"][best][1] / "model.pt"


def test_a_model_logged_to_another_store_is_named_not_registered(trained, caplog):
    # this test's own empty store (conftest), not the one the folds logged to
    metrics = [trained["runs"]["r3_cnn1d"][1] / "metrics.json"]
    chosen = registry.register_champions({"ser": metrics}, Path("registry.json"))
    assert chosen["ser"]["demo_speech"]["version"] is None
    assert "not in the MLflow store" in caplog.text
    assert mlflow.MlflowClient().search_registered_models() == []
