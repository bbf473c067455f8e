"""A corpus built to break things: indexing finishes, every bad file is quarantined with its
own reason, and every good one (odd rates, stereo, float, a minute long) reaches the features."""
import ctypes
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import tone, write_wav
from emoforge.corpora import ravdess, write_index
from emoforge.features.audio import MelConfig
from emoforge.features.extract import extract_audio

def _wav(path: Path, seconds: float, sr: int, channels: int = 1, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, sr, channels, freq=180.0), sr, subtype=subtype)
    return path


def build_hostile_corpus(root: Path) -> tuple[dict[str, tuple], dict[str, str]]:
    """RAVDESS layout. Returns the good files (stem -> rate, channels, subtype, seconds) and the bad ones
    (name -> the words its quarantine reason must contain)."""
    actor = root / "Actor_01"
    actor.mkdir(parents=True)
    good = {"03-01-05-01-01-01-01": (16000, 1, "FLOAT", 1.5), "03-01-06-01-01-01-01": (8000, 1, "PCM_16", 2.0),
            "03-01-07-01-01-01-01": (96000, 1, "PCM_24", 1.0), "03-01-08-01-01-01-01": (44100, 2, "PCM_16", 1.2),
            "03-01-03-02-01-01-01": (16000, 1, "PCM_16", 60.0)}
    for stem, (sr, channels, subtype, seconds) in good.items():
        _wav(actor / f"{stem}.wav", seconds, sr, channels, subtype)
    (actor / "03-01-01-01-01-01-01.wav").write_bytes(b"")
    header_only = write_wav(actor / "03-01-02-01-01-01-01.wav", seconds=1.0)
    header_only.write_bytes(header_only.read_bytes()[:30])
    (actor / "03-01-03-01-01-01-01.wav").write_bytes(np.random.default_rng(0).bytes(20000))
    write_wav(actor / "aiff.tmp", fmt="AIFF").rename(actor / "03-01-04-01-01-01-01.wav")
    _wav(actor / "03-01-02-02-01-01-01.wav", 0.1, 16000)
    write_wav(actor / "hello.wav")
    (actor / "03-01-04-02-01-01-01.wav").symlink_to("03-01-04-02-01-01-01.wav")
    (actor / "03-01-06-02-01-01-01.wav").symlink_to("gone.wav")
    (actor / "loop").symlink_to("..", target_is_directory=True)
    unreadable = write_wav(actor / "03-01-05-02-01-01-01.wav")
    unreadable.chmod(0)
    bad = {"03-01-01-01-01-01-01.wav": "empty file", "03-01-02-01-01-01-01.wav": "no data chunk",
           "03-01-03-01-01-01-01.wav": "not an audio file", "03-01-04-01-01-01-01.wav": "AIFF but named .wav",
           "03-01-02-02-01-01-01.wav": "too short", "hello.wav": "does not follow",
           "03-01-04-02-01-01-01.wav": "symbolic link loop", "03-01-06-02-01-01-01.wav": "broken symbolic link",
           "03-01-05-02-01-01-01.wav": "Permission denied"}
    return good, bad


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


@contextmanager
def file_permissions_enforced():
    """Root reads a mode-000 file anyway (CAP_DAC_OVERRIDE): for the block, this thread drops
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its effective set, and takes them back after."""
    if os.geteuid() != 0:
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    assert libc.capget(ctypes.byref(header), data) == 0, os.strerror(ctypes.get_errno())
    saved = data[0].effective
    data[0].effective &= ~((1 << 1) | (1 << 2))
    assert libc.capset(ctypes.byref(header), data) == 0, os.strerror(ctypes.get_errno())
    try:
        yield
    finally:
        data[0].effective = saved
        assert libc.capset(ctypes.byref(header), data) == 0, os.strerror(ctypes.get_errno())


def test_a_hostile_corpus_is_indexed_and_its_good_files_reach_the_features(tmp_path):
    root = tmp_path / "ravdess"
    good, bad = build_hostile_corpus(root)
    with file_permissions_enforced():
        index = write_index(ravdess.index(root, {}), tmp_path / "index.parquet")

    by_name = index.set_index(index["path"].str.rsplit("/", n=1).str[-1])
    for name, reason in bad.items():
        assert by_name.loc[name, "status"] == "quarantined", name
        assert reason in by_name.loc[name, "problem"], (name, by_name.loc[name, "problem"])
    kept = index[index["status"] == "ok"].set_index("item_id")
    assert sorted(kept.index) == sorted(f"ravdess/{stem}" for stem in good)
    for stem, (sr, channels, _, seconds) in good.items():
        assert tuple(kept.loc[f"ravdess/{stem}", ["sample_rate", "channels"]]) == (sr, channels)
        assert kept.loc[f"ravdess/{stem}", "duration"] == pytest.approx(seconds, abs=1e-3)

    manifest = extract_audio(tmp_path / "index.parquet", root, tmp_path / "features", MelConfig(), workers=2)
    assert sorted(manifest["item_id"]) == sorted(kept.index)
    for _, item in manifest.iterrows():
        seconds = good[item["item_id"].split("/")[1]][3]
        assert item["frames"] == 1 + int(round(seconds * 16000)) // 160, item["item_id"]
    shards = [np.load(tmp_path / "features" / "logmel" / name) for name in manifest["shard"].unique()]
    assert all(np.isfinite(shard).all() for shard in shards)
