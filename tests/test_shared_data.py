"""The readers on the real corpora in ../shared/data (skipped when absent)."""
import pandas as pd

from conftest import shared
from emoforge.corpora import REGISTRY, write_index


def test_index_real_ravdess_16k(tmp_path):
    root = shared("ravdess-16k")
    df = write_index(REGISTRY["ravdess"].index(root, {}), tmp_path / "ravdess.parquet")
    assert len(df) == 1440 and (df["status"] == "ok").all()
    assert df["speaker"].nunique() == 24 and df["emotion"].nunique() == 8
    assert set(df["sample_rate"]) == {16000} and set(df["channels"]) == {1}
    counts = df["emotion"].value_counts()
    assert counts["neutral"] == 96 and counts["angry"] == 192  # neutral has no strong intensity
    assert set(df.loc[df["speaker"] == "01", "gender"]) == {"male"}


def test_index_real_ravdess_48k_originals(tmp_path):
    root = shared("ravdess-48k")
    df = write_index(REGISTRY["ravdess"].index(root, {}), tmp_path / "r48.parquet")
    assert len(df) == 60 and (df["status"] == "ok").all()
    assert set(df["sample_rate"]) == {48000}
    assert (df["channels"] == 2).sum() == 2


def test_index_real_fer2013_folders(tmp_path):
    root = shared("fer2013")
    df = write_index(REGISTRY["fer2013"].index(root, {}), tmp_path / "fer.parquet")
    ok = df[df["status"] == "ok"]
    assert (df["split"] == "train").sum() == 28709 and (df["split"] == "test").sum() == 7178
    assert len(ok) == len(df)
    assert set(ok["emotion"]) == {"angry", "disgust", "fearful", "happy", "sad", "surprised", "neutral"}


def test_index_real_fer2013_csv_head(tmp_path):
    root = shared("fer2013-csv-head")
    df = write_index(REGISTRY["fer2013"].index(root, {}), tmp_path / "fercsv.parquet")
    assert len(df) == 1166
    head = pd.read_csv(root / "fer2013_head.csv", usecols=["emotion", "Usage"])
    ok = df["status"] == "ok"
    # every row that parses is kept, with FER's integer code turned into the canonical name
    assert ok.sum() >= 1160
    assert (df.loc[ok, "raw_label"].astype(int).values == head.loc[ok.values, "emotion"].values).all()


def test_the_small_corpus_benchmark_reads_ten_ravdess_actors_through_the_manifest_route(tmp_path):
    from emoforge.bench.small_corpus import write_manifest
    csv = tmp_path / "small" / "small.csv"
    assert write_manifest(shared("ravdess-16k"), csv) == 520
    index = REGISTRY["manifest"].index(csv.parent, {"manifest": "small.csv", "corpus": "small",
                                                    "label_map": {e: e for e in ("neutral", "happy", "sad",
                                                                                 "angry", "fearful", "disgust",
                                                                                 "surprised")}})
    df = pd.DataFrame([vars(i) for i in index])
    assert (df["status"] == "ok").all() and df["speaker"].nunique() == 10
    assert "calm" not in set(df["emotion"]) and df["emotion"].nunique() == 7
