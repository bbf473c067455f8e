"""Audio features: resampling and downmixing, log-mel, silence trimming, vectors."""
import numpy as np

from conftest import write_wav
from emoforge.features.audio import MelConfig, load_audio, log_mel, mfcc_stats, r3_mfcc259, trim_silence


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
    assert r3_mfcc259(path, cfg).shape == (259,)  # shorter clips are padded to R3's 3 s
