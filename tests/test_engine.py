"""The log-mel engine: same numbers as librosa, bounded memory, and a killed job that leaves
nothing a later stage would take for finished work."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, shared
from emoforge.features.audio import MelConfig, log_mel
from emoforge.features.engine import LogMelEngine, length_buckets, mel_filterbank
from emoforge.numba_cache import import_librosa

# float16 storage rounds a log value near 16 to a step of 2**-6: half of it is the tolerance
FLOAT16_TOLERANCE = 2.0 ** -7


@pytest.mark.parametrize("cfg", [MelConfig(), MelConfig(sample_rate=22050, n_fft=1024, win_length=1024,
                                                        hop_length=512, n_mels=128, fmin=0.0, fmax=11025.0)])
def test_mel_filterbank_is_librosas(cfg):
    librosa = import_librosa()
    expected = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin,
                                   fmax=cfg.fmax)
    np.testing.assert_allclose(mel_filterbank(cfg), expected, rtol=1e-5, atol=1e-9)


def test_engine_matches_librosa_frame_for_frame_on_clips_of_any_length():
    cfg = MelConfig()
    rng = np.random.default_rng(0)
    lengths = [159, 160, 4000, 16000, 16001, 37123, 80000]  # under one hop, exact hops, odd tails
    t = np.arange(max(lengths)) / cfg.sample_rate
    voice = 0.3 * np.sin(2 * np.pi * 180 * t * (1 + 0.2 * t)) + 0.01 * rng.standard_normal(len(t))
    clips = [voice[:n].astype(np.float32) for n in lengths]
    engine_mels = LogMelEngine(cfg, device="cpu")(clips)
    for clip, mel in zip(clips, engine_mels):
        reference = log_mel(clip, cfg)
        assert mel.dtype == np.float16 and mel.shape == reference.shape
        np.testing.assert_allclose(mel.astype(np.float32), reference, atol=FLOAT16_TOLERANCE,
                                   rtol=2.0 ** -10)


def test_length_buckets_place_every_clip_once_within_the_budget():
    lengths = [50, 10, 300, 10, 99, 1000, 20, 20, 20]
    groups = length_buckets(lengths, budget=100)
    assert sorted(p for g in groups for p in g) == list(range(len(lengths)))
    for group in groups:
        longest = max(lengths[p] for p in group)
        assert longest * len(group) <= 100 or len(group) == 1


def _features_job(index, root, out, *vectors):
    args = [sys.executable, "-m", "emoforge.cli", "features", "--corpus", "ravdess", "--index", str(index),
            "--root", str(root), "--out-dir", str(out), "--threads", "2"]
    if vectors:
        args += ["--vectors", *vectors]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)


def _written_since(path, started_ns):
    return lambda: path.exists() and path.stat().st_mtime_ns > started_ns


def _kill_when(job, reached, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not reached():
        assert job.poll() is None, "the job ended before the point where it was to be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait()


def _processes_naming(text):
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if text in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def _none_left(text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while _processes_naming(text) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _processes_naming(text)


def test_a_killed_feature_job_leaves_no_manifest_and_a_rerun_completes(tmp_path):
    root = shared("ravdess-16k")
    from emoforge.corpora import corpus_type, write_index
    index = write_index(corpus_type("ravdess", {}).index(root, {}, corpus="ravdess"), tmp_path / "once.parquet")
    four_times = pd.concat([index.assign(item_id=index["item_id"] + f"#{k}") for k in range(4)])
    four_times.to_parquet(tmp_path / "index.parquet", index=False)
    out = tmp_path / "features"
    finished = _features_job(tmp_path / "index.parquet", root, out)
    assert finished.wait() == 0
    complete = pd.read_parquet(out / "logmel.parquet")
    assert len(complete) == 4 * 1440 and complete["shard"].nunique() > 1

    # killed after its first shard of a new run: the old manifest must not survive beside new shards
    started = time.time_ns()
    job = _features_job(tmp_path / "index.parquet", root, out)
    _kill_when(job, _written_since(out / "logmel" / "shard_0001.npy", started))
    assert not (out / "logmel.parquet").exists()

    # a vector job killed after its first row group: no table, only the partial file
    job = _features_job(tmp_path / "index.parquet", root, out, "mfcc_stats")
    _kill_when(job, (out / ".mfcc_stats.parquet.partial").exists)
    assert not (out / "mfcc_stats.parquet").exists()
    assert _none_left(str(tmp_path / "index.parquet")), "the killed job's workers outlived it"

    assert _features_job(tmp_path / "index.parquet", root, out).wait() == 0
    again = pd.read_parquet(out / "logmel.parquet")
    pd.testing.assert_frame_equal(again, complete)
