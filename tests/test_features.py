"""Audio features: resampling and downmixing, log-mel, silence trimming, vectors."""
import numpy as np

from conftest import write_wav
from emoforge.features.audio import MelConfig, load_audio, log_mel, mfcc_stats, r2_frames848, r3_mfcc259, trim_silence


def test_stereo_48k_is_downmixed_and_resampled(tmp_path):
    audio = load_audio(write_wav(tmp_path / "s.wav", seconds=1.0, sr=48000, channels=2), 16000)
    assert audio.ndim == 1 and len(audio) == 16000
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) - 220) <= 1  # the 220 Hz tone survives resampling


def test_log_mel_frames_and_trim(tmp_path):
    cfg = MelConfig()
    tone = load_audio(write_wav(tmp_path / "t.wav", seconds=1.0), 16000)
    padded = np.concatenate([np.zeros(8000, np.float32), tone, np.zeros(16000, np.float32)]) + 1e-5
    mel = log_mel(padded, cfg)
    assert mel.shape == (1 + len(padded) // 160, 64)
    trimmed = trim_silence(mel)
    assert 95 <= len(trimmed) <= 106  # the 1 s tone, give or take the window's spread


def test_vectors_have_their_fixed_lengths(tmp_path):
    path = write_wav(tmp_path / "v.wav", seconds=2.0)
    cfg = MelConfig()
    assert mfcc_stats(load_audio(path, 16000), cfg).shape == (4 * cfg.n_mfcc,)
    r3 = r3_mfcc259(path, cfg)
    assert r3.shape == (259,) and np.isnan(r3).any()  # a clip under 3.5 s ends in NaN, as in R3's table
    r2 = r2_frames848(path, cfg)
    assert r2.shape == (848,) and np.isfinite(r2).all()
    assert np.array_equal(r2, r2_frames848(path, cfg))
    from emoforge.features.audio import VECTORS
    assert VECTORS["egemaps"](path, load_audio(path, 16000), cfg).shape == (88,)
    assert VECTORS["compare"](path, load_audio(path, 16000), cfg).shape == (6373,)


def test_benchmark_file_has_rows_wall_time_and_device(tmp_path):
    import json
    from emoforge.report.build import benchmark
    paths = []
    for fold, ua in enumerate([0.5, 0.7]):
        p = tmp_path / "data/models/ser/ravdess/cnn_logmel/speaker" / f"fold{fold}" / "metrics.json"
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps({"test/ua": ua, "test/wa": ua, "test/f1": ua, "test/top3": 1.0, "wall_s": 10.0,
                                 "device": "cpu", "epochs_run": 3, "labels": ["a", "b"],
                                 "test/confusion": [[1, 0], [0, 1]]}))
        paths.append(str(p))
    out = benchmark(paths, tmp_path / "reports/benchmarks/ser_ravdess.json")
    ua = next(r for r in out["rows"] if r["metric"] == "ua")
    assert (ua["mean"], ua["folds"], ua["protocol"]) == (0.6, 2, "speaker-independent 2-fold")
    assert out["wall_s"] == 20.0 and out["device"].startswith("cpu (")
    assert "| ravdess | cnn_logmel |" in (tmp_path / "reports/benchmarks/ser_ravdess.md").read_text()
