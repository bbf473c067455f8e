"""The reference projects' SER pipelines as their code has them (R2, R3), and the protocols
that go with them: R2's and R3's random splits and the cross-corpus protocol."""
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from emoforge import models
from emoforge.evaluate.metrics import classification
from emoforge.features.audio import MelConfig, R3_FRAMES, load_audio, r2_frames848, r3_mfcc259
from emoforge.numba_cache import import_librosa
from emoforge.train.common import split_items
from emoforge.train.inputs import prepare_fold

CFG = dict(seed=0, folds=4, frames=200)


def tone(path, seconds: float, sample_rate: int = 22050, start: float = 0.0):
    """A vowel-like harmonic tone in noise, silent for its first `start` seconds."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    audio = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8)) * (t >= start)
    audio = 0.2 * audio / np.abs(audio).max() + 0.01 * rng.standard_normal(len(t))
    sf.write(path, audio.astype(np.float32), sample_rate)
    return path


def test_r2_vector_is_eight_descriptors_of_106_frames(tmp_path):
    import noisereduce

    librosa = import_librosa()
    long_clip = tone(tmp_path / "long.wav", 4.0)
    vector = r2_frames848(long_clip, MelConfig())
    assert vector.shape == (848,) and np.isfinite(vector).all()
    blocks = vector.reshape(8, 106)
    # R2's pipeline by hand: 18 kHz, spectral gating, the first 3 s
    audio = noisereduce.reduce_noise(y=load_audio(long_clip, 18000), sr=18000)[:54000]
    assert np.allclose(blocks[0], librosa.feature.zero_crossing_rate(y=audio)[0], atol=1e-6)
    assert np.allclose(blocks[2], librosa.feature.mfcc(y=audio, sr=18000, n_mfcc=13).mean(0), rtol=1e-4, atol=1e-3)
    rolloff_low = librosa.feature.spectral_rolloff(y=audio, sr=18000, roll_percent=0.01)[0]
    assert np.allclose(blocks[7], rolloff_low, rtol=1e-4) and (blocks[6] > blocks[7]).all()
    # a 1 s clip is padded with silence: its RMS is zero past the end of the sound
    short = r2_frames848(tone(tmp_path / "short.wav", 1.0), MelConfig()).reshape(8, 106)
    assert short[1, 40:].max() < 1e-6 < short[1, 5]


def test_r3_vector_ends_in_nan_for_clips_under_3_5_s(tmp_path):
    full = r3_mfcc259(tone(tmp_path / "a.wav", 3.6, 44100), MelConfig())
    short = r3_mfcc259(tone(tmp_path / "b.wav", 3.2, 44100), MelConfig())
    assert full.shape == short.shape == (R3_FRAMES,) and np.isfinite(full).all()
    assert np.isnan(short[233:]).all() and np.isfinite(short[:233]).all()  # 1 + 2.7 s * 44100 // 512


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    """Two small "corpora" of r3_mfcc259 vectors with label columns, as extraction writes them."""
    rng = np.random.default_rng(1)
    root = tmp_path_factory.mktemp("vectors")
    emotions = ["neutral", "calm", "happy", "sad", "angry", "disgust"]
    for corpus, speakers, kinds in (("a", 6, emotions), ("b", 3, emotions[:1] + emotions[2:5] + ["excited"])):
        rows = []
        for s in range(speakers):
            for k, emotion in enumerate(kinds):
                for rep in range(4):
                    rows.append({"item_id": f"{s}_{emotion}_{rep}", "speaker": f"{s + 1:02d}",
                                 "split_group": f"{s + 1:02d}", "emotion": emotion, "gender": "f",
                                 "intensity": "normal", "sentence": "x"})
        table = pd.DataFrame(rows)
        values = rng.normal(size=(len(table), R3_FRAMES)).astype(np.float32)
        values[::5, -20:] = np.nan  # every fifth clip is too short for R3's vector
        cols = pd.DataFrame(values, columns=[f"r3_mfcc259_{i:03d}" for i in range(R3_FRAMES)])
        (root / corpus).mkdir()
        pd.concat([table, cols], axis=1).to_parquet(root / corpus / "r3_mfcc259.parquet")
    return root


def test_r3_recipe_leaves_out_incomplete_vectors_and_keeps_calm(vectors):
    kept = prepare_fold("r3_mfcc259", vectors / "a", {**CFG, "incomplete": "drop"}, "r3split", 0, 0)
    padded = prepare_fold("r3_mfcc259", vectors / "a", CFG, "speaker", 0, 0)
    assert len(kept.inputs.manifest) == 144 - len(range(0, 144, 5)) and len(padded.inputs.manifest) == 144
    assert np.isfinite(padded.inputs.data).all() and "calm" in kept.labels and len(kept.labels) == 6
    assert not len(kept.idx["val"])  # R3 validated on its test split; here nothing validates


def test_reference_splits_are_the_references_random_splits(vectors):
    from sklearn.model_selection import train_test_split

    manifest = pd.read_parquet(vectors / "a" / "r3_mfcc259.parquet", columns=["emotion", "split_group"])
    r3 = split_items(manifest, "r3split", 4, 0, seed=123)
    assert np.array_equal(r3["test"], np.sort(train_test_split(np.arange(144), test_size=0.1, random_state=0)[1]))
    r2 = split_items(manifest, "r2split", 4, 1, seed=123)
    assert len(r2["test"]) == 44 and not len(r2["val"])  # scikit-learn rounds the test part up
    assert manifest["emotion"].iloc[r2["test"]].value_counts().isin([7, 8]).all()  # stratified: 30 % of 24
    groups = manifest["split_group"].to_numpy()
    assert set(groups[r2["test"]]) & set(groups[r2["train"]])  # speakers shared, as in R2
    assert not np.array_equal(r2["test"], split_items(manifest, "r2split", 4, 2, seed=123)["test"])


def test_cross_protocol_tests_on_the_other_corpus_over_shared_labels(vectors):
    cfg = {**CFG, "cross": {"test_corpus": "b", "test_features": str(vectors / "b"),
                            "label_map": {"excited": "happy"}}}
    fold = prepare_fold("r3_mfcc259", vectors / "a", cfg, "cross", 0, 0)
    manifest = fold.inputs.manifest
    assert fold.labels == fold.scored == ["angry", "happy", "neutral", "sad"]  # calm, disgust: a's only
    test, train = manifest.iloc[fold.idx["test"]], manifest.iloc[fold.idx["train"]]
    assert (test["side"] == "test").all() and (train["side"] == "train").all()
    assert len(test) == 3 * 5 * 4 and (test["emotion"] == "happy").sum() == 3 * 2 * 4  # excited read as happy
    assert test["speaker"].str.startswith("b:").all()
    val = manifest.iloc[fold.idx["val"]]
    assert (val["side"] == "train").all() and not set(val["speaker"]) & set(train["speaker"])
    with pytest.raises(ValueError, match="share"):
        prepare_fold("r3_mfcc259", vectors / "a", {**cfg, "drop_emotions": ["angry", "happy", "sad"]},
                     "cross", 0, 0)


def test_r4s_cross_protocol_trains_on_every_emotion_and_scores_only_those_the_test_has(vectors):
    cross = {"test_corpus": "b", "test_features": str(vectors / "b"), "label_map": {"excited": "happy"},
             "train_labels": "all", "drop_emotions": ["disgust"]}
    fold = prepare_fold("r3_mfcc259", vectors / "a", {**CFG, "cross": cross}, "cross", 0, 0)
    manifest = fold.inputs.manifest
    assert fold.labels == ["angry", "calm", "happy", "neutral", "sad"]  # a's own, disgust dropped
    assert fold.scored == ["angry", "happy", "neutral", "sad"]
    assert (manifest.iloc[fold.idx["train"]]["emotion"] == "calm").sum() > 0
    assert set(manifest.iloc[fold.idx["test"]]["emotion"]) == set(fold.scored)
    assert "disgust" not in set(manifest["emotion"])
    # a clip the network hears as calm counts as its best emotion that b has (R4's remove_predictions)
    happy = np.array([fold.labels.index("happy")])
    scores = np.array([[0.05, 0.5, 0.3, 0.1, 0.05]])
    assert classification(happy, scores, fold.labels)["test/wa"] == 0.0
    scored = classification(happy, scores, fold.labels, "test", fold.scored)
    assert scored["test/wa"] == 1.0 and scored["test/confusion"][2][1] == 0
    shared = prepare_fold("r3_mfcc259", vectors / "a", {**CFG, "cross": {**cross, "train_labels": "shared"}},
                          "cross", 0, 0)
    assert shared.labels == shared.scored == fold.scored


def test_reference_networks_have_their_codes_shapes():
    r3 = models.get("r3_cnn1d").build(n_classes=8, n_features=259)
    assert sum(p.numel() for p in r3.parameters()) == 545_928  # R3's printed model summary
    alexnet = models.get("r2_alexnet1d").build(n_classes=6, n_features=848)
    resnet = models.get("r2_resnet1d").build(n_classes=6, n_features=848)
    assert alexnet.head[0].in_features == 512 * 8 and resnet.head[0].in_features == 512 * 9
    x = torch.randn(4, 848)
    assert alexnet(x).shape == resnet(x).shape == (4, 6)


def test_r4_network_is_r4s_and_weighs_its_auxiliary_losses_as_r4_did():
    r4 = models.get("r4_multitask").build(n_classes=6, n_mels=64, aux={"gender": 2, "vad": 3})
    assert r4.shared[1].in_features == 64 * 31 * 31 and r4.shared[0].p == r4.shared[3].p == 0.8
    out = r4(torch.randn(2, 128, 128))
    assert out["emotion"].shape == (2, 6) and out["gender"].shape == (2, 2) and out["vad"].shape == (2, 3)
    losses = {"gender": torch.tensor(2.0), "vad": torch.tensor(4.0)}
    s = 0.5  # softmax of two zero weights
    assert torch.isclose(r4.weigh(losses), torch.tensor(np.exp(-s) * 6.0 + 2 * s, dtype=torch.float32))
    from emoforge.models.ser_cnn import SimAM
    assert not list(SimAM().parameters())  # SimAM has no parameters


@pytest.mark.parametrize("variant", ["r2_gru", "r2_lstm", "r2_attention"])
def test_r2_sequence_models_mix_the_clips_of_a_batch_as_r2s_code_did(variant):
    torch.manual_seed(0)
    model = models.get(variant).build(n_classes=6, n_features=848).eval()
    batch = torch.randn(5, 848)
    with torch.no_grad():
        alone, together = model(batch[:1]), model(batch)[:1]
    assert not torch.allclose(alone, together)  # a clip's score depends on its batch


def test_recipes_sit_between_the_ser_section_and_the_users_overrides():
    ser = {"epochs": 20, "lr": 0.002, "protocols": ["speaker"]}
    r3 = models.get("r3_cnn1d")
    assert r3.training(ser)["epochs"] == 600 and r3.training(ser)["protocols"] == ["speaker", "r3split"]
    assert r3.training({**ser, "overrides": {"r3_cnn1d": {"epochs": 7}}})["epochs"] == 7
    assert models.get("cnn_logmel").training(ser)["epochs"] == 20


def test_report_draws_a_cross_corpus_matrix_with_the_speaker_protocol_on_its_diagonal(tmp_path):
    import json

    from emoforge.report.build import cross_tables

    runs = {("a", "speaker", 0): 0.6, ("a", "speaker", 1): 0.8, ("a", "cross-b", 0): 0.3, ("b", "cross-a", 0): 0.4}
    paths = []
    for (corpus, protocol, fold), ua in runs.items():
        path = tmp_path / "ser" / corpus / "v" / protocol / f"fold{fold}" / "metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"test/ua": ua}))
        paths.append(str(path))
    lines = cross_tables(paths)
    assert "| trained on | a | b |" in lines
    assert "| a | 0.700 | 0.300 |" in lines and "| b | 0.400 | — |" in lines
    assert cross_tables(paths[:2]) == []  # no cross run: no matrix


def test_report_lists_each_fusions_member_weights_over_folds(tmp_path):
    import json

    from emoforge.report.build import fusion_weights

    paths = []
    folds = ({"cnn_statspool": 0.4, "compare_linear": 1.0}, {"cnn_statspool": 0.6, "compare_linear": 0.0})
    for fold, w in enumerate(folds):
        out = tmp_path / "ravdess" / "fusion_loglinear" / "speaker" / f"fold{fold}" / "metrics.json"
        out.parent.mkdir(parents=True)
        out.write_text(json.dumps({"weights": w, "method": "log_loss", "test/ua": 0.5}))
        paths.append(str(out))
    solo = tmp_path / "ravdess" / "cnn_statspool" / "speaker" / "fold0" / "metrics.json"
    solo.parent.mkdir(parents=True)
    solo.write_text(json.dumps({"test/ua": 0.5}))
    md = fusion_weights(paths + [str(solo)])
    assert "`fusion_loglinear` on ravdess" in md[0] and "method `log_loss`" in md[0]
    assert md[2] == "| `cnn_statspool` | `compare_linear` |"
    assert md[4] == "| 0.50 ± 0.14 | 0.50 ± 0.71 |"  # sample std over folds, as the tables
