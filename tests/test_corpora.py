"""Readers and the quarantine of bad files (no real corpora needed)."""
import numpy as np
import pandas as pd
import pytest

from conftest import write_wav
from emoforge.corpora import REGISTRY, corpus_type, ravdess, write_index
from emoforge.corpora.base import Item, probe_audio
from emoforge.corpora.fer2013 import index as fer_index


def probe(path):
    return probe_audio(path, Item(item_id="x", corpus="t", path=path.name, modality="audio"))


def test_ravdess_name_decoding():
    meta = ravdess.parse_name("03-01-06-01-02-01-12")
    assert (meta["emotion"], meta["intensity"], meta["sentence"], meta["actor"]) == ("fearful", "normal", "02", 12)


@pytest.mark.parametrize("stem, why", [
    ("03-01-09-01-01-01-01", "unknown emotion code"),
    ("03-01-01-02-01-01-01", "neutral has no strong"),
    ("03-01-05-01-01-01-25", "actor"),
    ("hello", "does not follow"),
])
def test_ravdess_bad_names_are_explained(stem, why):
    with pytest.raises(ValueError, match=why):
        ravdess.parse_name(stem)


def test_good_audio_stereo_48k_is_kept_with_its_format(tmp_path):
    item = probe(write_wav(tmp_path / "a.wav", seconds=1.5, sr=48000, channels=2))
    assert (item.status, item.sample_rate, item.channels, item.duration) == ("ok", 48000, 2, 1.5)


def test_corrupt_empty_and_non_audio_files_are_quarantined(tmp_path):
    empty = tmp_path / "empty.wav"; empty.write_bytes(b"")
    text = tmp_path / "notes.wav"; text.write_text("this is not audio at all")
    garbage = tmp_path / "garbage.flac"; garbage.write_bytes(b"fLaC" + bytes(range(256)) * 4)
    aiff = write_wav(tmp_path / "aiff.wav.tmp", fmt="AIFF").rename(tmp_path / "aiff.wav")
    trunc = write_wav(tmp_path / "trunc.wav", seconds=2.0)
    trunc.write_bytes(trunc.read_bytes()[:20000])
    silent = tmp_path / "silent.wav"
    import soundfile as sf
    sf.write(silent, np.zeros(16000, dtype=np.float32), 16000)
    short = write_wav(tmp_path / "short.wav", seconds=0.05)
    expected = {empty: "empty file", text: "not an audio file", garbage: "unreadable audio",
                aiff: "AIFF but named .wav", trunc: "truncated", silent: "silence", short: "too short"}
    for path, why in expected.items():
        item = probe(path)
        assert item.status == "quarantined", path.name
        assert why in item.problem, (path.name, item.problem)


def test_ravdess_index_quarantines_without_crashing(tmp_path):
    root = tmp_path / "ravdess"
    write_wav(root / "Actor_01" / "03-01-05-02-01-01-01.wav")
    write_wav(root / "Actor_01" / "03-01-05-02-01-01-02.wav")  # actor 02 file in Actor_01
    (root / "Actor_01" / "03-01-03-01-01-01-01.wav").write_bytes(b"\x00" * 100)
    write_wav(root / "Actor_02" / "03-01-11-01-01-01-02.wav")  # emotion 11 does not exist
    df = write_index(ravdess.index(root, {}), tmp_path / "ravdess.parquet")
    by = df.set_index("item_id")
    assert by.loc["ravdess/03-01-05-02-01-01-01", ["status", "emotion", "gender", "intensity"]].tolist() == \
        ["ok", "angry", "male", "strong"]
    assert "folder Actor_01" in by.loc["ravdess/03-01-05-02-01-01-02", "problem"]
    assert "not an audio file" in by.loc["ravdess/03-01-03-01-01-01-01", "problem"]
    assert "emotion code" in by.loc["ravdess/03-01-11-01-01-01-02", "problem"]
    assert (df["status"] == "ok").sum() == 1
    assert list(pd.read_parquet(tmp_path / "ravdess.parquet").columns[:16]) == [
        "item_id", "corpus", "path", "modality", "speaker", "gender", "emotion", "raw_label", "intensity",
        "sentence", "split_group", "duration", "sample_rate", "channels", "status", "problem"]


def test_manifest_corpus_maps_labels_and_quarantines_unknown_ones(tmp_path):
    write_wav(tmp_path / "clips" / "a.wav"); write_wav(tmp_path / "clips" / "b.wav")
    (tmp_path / "m.csv").write_text("path,emotion,speaker,gender\nclips/a.wav,ang,s1,f\nclips/b.wav,xyz,s2,m\n"
                                    "clips/missing.wav,ang,s3,m\n")
    cfg = {"type": "manifest", "manifest": "m.csv", "label_map": {"ang": "angry"}}
    items = corpus_type("mine", cfg).index(tmp_path, cfg, corpus="mine")
    assert [(i.status, i.emotion) for i in items][0] == ("ok", "angry")
    assert "no entry in label_map" in items[1].problem
    assert items[2].problem == "file is missing"
    with pytest.raises(ValueError, match="not a canonical emotion"):
        corpus_type("mine", cfg).index(tmp_path, {**cfg, "label_map": {"ang": "furious"}}, corpus="mine")


def test_manifest_without_required_columns_is_a_clear_error(tmp_path):
    (tmp_path / "m.csv").write_text("file,label\na.wav,ang\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['path', 'emotion', 'speaker'\]"):
        REGISTRY["manifest"].index(tmp_path, {"manifest": "m.csv"})


def test_manifest_paths_follow_one_rule_from_index_to_features(tmp_path):
    """Absolute, relative to the CSV, CSV in a subfolder, file outside the corpus folder: the
    index stores each so that feature extraction finds the same file."""
    from emoforge.corpora.base import item_path
    from emoforge.features.audio import MelConfig
    from emoforge.features.extract import extract_audio

    root = tmp_path / "corpus"
    outside = write_wav(tmp_path / "elsewhere" / "far.wav", seconds=0.6)
    for name in ("near.wav", "up.wav", "abs.wav"):
        write_wav(root / "audio" / name, seconds=0.6)
    (root / "meta").mkdir()
    (root / "meta" / "m.csv").write_text(
        "path,emotion,speaker\n../audio/up.wav,ang,s1\n" f"{root / 'audio' / 'abs.wav'},ang,s2\n"
        f"{outside},ang,s3\n../audio/./near.wav,ang,s4\n")
    (root / "top.csv").write_text("path,emotion,speaker\naudio/near.wav,ang,s1\n")
    cfg = {"type": "manifest", "manifest": "meta/m.csv", "label_map": {"ang": "angry"}}
    items = REGISTRY["manifest"].index(root, cfg, corpus="mine")
    assert [i.status for i in items] == ["ok"] * 4, [i.problem for i in items]
    assert [i.path for i in items] == ["audio/up.wav", "audio/abs.wav", str(outside), "audio/near.wav"]
    assert all(item_path(root, i.path).is_file() for i in items)
    top = REGISTRY["manifest"].index(root, {**cfg, "manifest": "top.csv"}, corpus="mine")
    assert top[0].status == "ok" and top[0].path == "audio/near.wav"
    write_index(items, tmp_path / "mine.parquet")
    manifest = extract_audio(tmp_path / "mine.parquet", root, tmp_path / "features", MelConfig())
    assert len(manifest) == 4 and (manifest["frames"] > 50).all()


def test_corpus_config_mistakes_name_the_key_the_corpus_and_the_fix(tmp_path):
    from emoforge.corpora import check_config, config_errors

    missing = config_errors("mine", {"enabled": True, "type": "manifest", "path": "/data/mine",
                                     "label_map": {"a": "angry"}})
    assert len(missing) == 1
    assert "corpora.mine" in missing[0] and "`manifest:`" in missing[0] and "e.g. manifest: manifest.csv" in missing[0]
    typo = config_errors("mine", {"enabled": True, "type": "manifest", "path": "/d", "manfest": "m.csv",
                                  "label_map": {"a": "angry"}})
    assert any("unknown key `manfest`" in e and "did you mean `manifest`" in e for e in typo)
    assert "did you mean 'ravdess'" in config_errors("r", {"enabled": True, "type": "ravdes"})[0]
    assert "`folds: 1`" in config_errors("ravdess", {"enabled": True, "folds": 1})[0]
    assert config_errors("ravdess", {"enabled": True, "path": None, "folds": "loso"}) == []
    assert config_errors("iemocap", {"enabled": True, "classes": "full"}) == []
    assert "unknown key `classes`" in config_errors("ravdess", {"enabled": True, "classes": "full"})[0]
    with pytest.raises(ValueError, match="corpora.mine: a manifest corpus needs `label_map:`"):
        check_config({"mine": {"enabled": True, "type": "manifest", "path": "/d", "manifest": "m.csv"}})
    with pytest.raises(ValueError, match="needs `manifest:`"):  # the reader says it too, for direct calls
        REGISTRY["manifest"].index(tmp_path, {"label_map": {}}, corpus="mine")


def test_unknown_corpus_type_names_the_known_ones():
    with pytest.raises(KeyError, match="known"):
        corpus_type("x", {"type": "nope"})


def test_fer_csv_bad_rows_are_quarantined(tmp_path):
    good = " ".join(["128"] * 2304)
    (tmp_path / "fer2013.csv").write_text(
        f"emotion,pixels,Usage\n3,{good},Training\n9,{good},Training\n0,1 2 3,PublicTest\n6,{good},PrivateTest\n")
    items = fer_index(tmp_path, {})
    assert [i.status for i in items] == ["ok", "quarantined", "quarantined", "ok"]
    assert items[0].emotion == "happy" and items[3].extra["split"] == "test"
    assert "outside 0-6" in items[1].problem and "3 pixel values" in items[2].problem
    assert "bad row 2 (fer2013.csv line 4)" in items[2].problem  # a user can open the file there


def test_fer_missing_everything_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no FER-2013 found"):
        fer_index(tmp_path, {})


def test_fer_folders_quarantine_unknown_class_corrupt_and_wrong_size_images(tmp_path):
    from PIL import Image
    good = tmp_path / "train" / "happy" / "ok.png"
    good.parent.mkdir(parents=True)
    Image.fromarray(np.full((48, 48), 128, np.uint8)).save(good)
    (tmp_path / "train" / "bored").mkdir()
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(tmp_path / "train" / "bored" / "x.png")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "train" / "happy" / "big.png")
    (tmp_path / "train" / "happy" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (tmp_path / "test").mkdir()
    items = {i.path: i for i in fer_index(tmp_path, {})}
    assert items["train/happy/ok.png"].status == "ok" and items["train/happy/ok.png"].emotion == "happy"
    assert "not a FER-2013 class" in items["train/bored/x.png"].problem
    assert "64x64, expected 48x48" in items["train/happy/big.png"].problem
    assert "unreadable image" in items["train/happy/broken.jpg"].problem


def test_manifest_rows_without_path_or_speaker_are_quarantined(tmp_path):
    write_wav(tmp_path / "a.wav")
    (tmp_path / "m.csv").write_text("path,emotion,speaker\n,ang,s1\na.wav,ang,\n")
    items = REGISTRY["manifest"].index(tmp_path, {"manifest": "m.csv", "label_map": {"ang": "angry"}})
    assert [i.problem for i in items] == ["empty path", "no speaker given"]


def test_index_stage_fails_clearly_when_every_file_is_quarantined(tmp_path):
    from emoforge.cli import main
    (tmp_path / "Actor_01").mkdir()
    (tmp_path / "Actor_01" / "03-01-01-01-01-01-01.wav").write_bytes(b"")
    with pytest.raises(SystemExit, match="every item was quarantined"):
        main(["index", "--corpus", "ravdess", "--root", str(tmp_path), "--out", str(tmp_path / "i.parquet")])
    assert pd.read_parquet(tmp_path / "i.parquet")["problem"].tolist() == ["empty file (0 bytes)"]
