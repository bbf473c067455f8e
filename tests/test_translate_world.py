"""WORLD analysis and resynthesis, conversion metrics, pairing, and the WORLD converters."""
import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emoforge.evaluate.conversion import MCD_CONSTANT, Tracks, analyze_for_eval, compare, dtw_path, mcd_db
from emoforge.features.world import FRAME_MS, World, analyze, synthesize

SR = 16000


def voiced_tone(f0: float, tilt: float = 1.0, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """A vowel-like sound: harmonics of f0 falling as 1/k**tilt, over a faint noise floor,
    with 0.1 s of near-silence around it."""
    t = np.arange(int(seconds * sr)) / sr
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k ** tilt for k in range(1, int(7000 / f0)))
    silence = np.zeros(sr // 10)
    audio = np.concatenate([silence, 0.3 * wave / np.abs(wave).max(), silence])
    return (audio + 1e-3 * np.random.default_rng(0).standard_normal(len(audio))).astype(np.float32)


def test_world_round_trip_keeps_pitch_length_and_spectrum():
    audio = voiced_tone(150.0)
    world = analyze(audio, SR)
    voiced = world.f0[world.f0 > 0]
    assert len(voiced) > 0.8 * 1000 / FRAME_MS
    assert np.median(voiced) == pytest.approx(150.0, rel=0.02)
    resynth = synthesize(world)
    assert abs(len(resynth) - len(audio)) <= SR * FRAME_MS / 1000
    original, again = Tracks.of(analyze_for_eval(audio, SR)), Tracks.of(analyze_for_eval(resynth, SR))
    round_trip = compare(again, original)
    assert round_trip["mcd_db"] < 4.0 and round_trip["logf0_rmse"] < 0.05 and round_trip["vuv_error"] < 0.05
    other_vowel = compare(Tracks.of(analyze_for_eval(voiced_tone(150.0, tilt=2.0), SR)), original)
    assert other_vowel["mcd_db"] > round_trip["mcd_db"] + 2.0
    octave_up = compare(Tracks.of(analyze_for_eval(voiced_tone(300.0), SR)), original)
    assert octave_up["logf0_rmse"] == pytest.approx(np.log(2), rel=0.05)


def test_analysis_refuses_what_is_not_mono_speech():
    with pytest.raises(ValueError, match="mono audio of at least 50 ms"):
        analyze(np.zeros(100, dtype=np.float32), SR)
    with pytest.raises(ValueError, match="mono"):
        analyze(np.zeros((SR, 2), dtype=np.float32), SR)


def test_mcd_is_the_standard_constant_times_the_cepstral_distance_without_c0():
    a = np.zeros((4, 25))
    b = a.copy()
    b[:, 0] = 5.0  # loudness alone costs nothing
    assert mcd_db(a, b) == 0.0
    b[:, 1], b[:, 2] = 0.3, 0.4
    assert mcd_db(a, b) == pytest.approx(MCD_CONSTANT * 0.5)
    assert MCD_CONSTANT == pytest.approx(6.1418, abs=1e-4)


def test_dtw_aligns_a_slowed_copy_frame_for_frame():
    rng = np.random.default_rng(0)
    a = np.cumsum(rng.standard_normal((40, 24)), axis=0)
    slowed = np.repeat(a, 2, axis=0)  # every frame held twice as long
    ia, ib = dtw_path(a, slowed)
    assert (ia[0], ib[0]) == (0, 0) and (ia[-1], ib[-1]) == (39, 79)
    assert np.all(np.diff(ia) >= 0) and np.all(np.diff(ib) >= 0)
    assert np.array_equal(ia, ib // 2)


def test_pairs_join_the_same_utterance_in_two_emotions_only():
    from emoforge.train.translate_world import any_to_any_pairs

    rows = [{"speaker": s, "sentence": n, "repetition": "01", "emotion": e}
            for s in ("1", "2") for n in ("a", "b") for e in ("neutral", "angry", "sad")]
    rows.append({"speaker": "1", "sentence": "a", "repetition": "02", "emotion": "happy"})  # no partner
    clips = pd.DataFrame(rows)
    pairs = any_to_any_pairs(clips)
    assert len(pairs) == 2 * 2 * 3 * 2
    for s, t in pairs:
        same = ["speaker", "sentence", "repetition"]
        assert clips.loc[s, same].tolist() == clips.loc[t, same].tolist()
        assert clips.at[s, "emotion"] != clips.at[t, "emotion"]
    with pytest.raises(ValueError, match="no parallel sentences"):
        any_to_any_pairs(clips.assign(sentence=None))


def _world(f0_hz: float, frames: int, gain: float = 1.0) -> World:
    f0 = np.full(frames, f0_hz)
    f0[::10] *= 1.1  # some pitch movement, so the range is defined
    f0[:3] = 0.0
    envelope = np.full((frames, 513), 1e-3 * gain)
    return World(f0=f0, envelope=envelope, aperiodicity=np.full((frames, 513), 0.1), sample_rate=SR)


def test_prosody_baseline_moves_pitch_loudness_and_rate_as_training_pairs_did():
    from emoforge.convert import get

    baseline = get("prosody_baseline")()
    train = [(_world(120.0 * k, 200), _world(180.0 * k, 300, gain=4.0), "neutral", "angry") for k in (1.0, 1.2)]
    baseline.fit(train)
    shift = baseline.shifts[("neutral", "angry")]
    assert shift.f0_offset == pytest.approx(np.log(1.5), rel=1e-3)
    assert shift.loudness_offset == pytest.approx(np.log(4.0), rel=1e-6)
    assert shift.rate == pytest.approx(1.5, rel=1e-6)
    converted = baseline.convert(_world(100.0, 100), "neutral", "angry")
    assert converted.frames == 150
    assert np.median(converted.f0[converted.f0 > 0]) == pytest.approx(150.0, rel=1e-3)
    assert (converted.f0 == 0).sum() == pytest.approx(3 * 1.5, abs=1)  # unvoiced stays unvoiced
    with pytest.raises(KeyError, match="no training pair went from 'angry'"):
        baseline.convert(_world(100.0, 100), "angry", "neutral")


def test_no_conversion_returns_the_source_untouched():
    from emoforge.convert import get

    world = _world(100.0, 50)
    assert get("no_conversion")().convert(world, "neutral", "angry") is world
    with pytest.raises(KeyError, match="unknown converter"):
        get("cyclegan")


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory):
    from emoforge.corpora import corpus_type
    from emoforge.corpora.base import write_index
    from emoforge.demo.speech import generate

    from emoforge.features.audio import MelConfig
    from emoforge.features.extract import extract_vectors

    root = tmp_path_factory.mktemp("demo_speech")
    generate(root, actors=3)
    corpus = corpus_type("demo_speech", {"actors": 3})
    write_index(corpus.index(root, {}, corpus="demo_speech"), root / "index.parquet")
    extract_vectors(root / "index.parquet", root, root / "features", MelConfig(), ("egemaps",))
    return root / "index.parquet", root


WORLD_VARIANTS = ["no_conversion", "prosody_baseline", "world_mlp", "r1_unet8"]
DEMO_CFG = {"subset": {"intensity": "normal", "repetition": "01", "sentence": "01"},
            "emotions": ["neutral", "angry", "sad"], "speakers": {"val": ["02"], "test": ["03"]},
            "model": {"world_mlp": {"epochs": 4}, "r1_unet8": {"epochs": 2}}}


@pytest.fixture(scope="module")
def world_runs(demo_index, tmp_path_factory):
    """Every WORLD variant converted the demo's held-out speaker: variant -> (metrics, folder)."""
    from emoforge.train.translate_world import fit

    index, root = demo_index
    models = tmp_path_factory.mktemp("models") / "translate" / "demo_speech"
    return {variant: (fit(DEMO_CFG, index, root, models / variant, "demo_speech", variant,
                          judge_table=root / "features" / "egemaps.parquet"), models / variant)
            for variant in WORLD_VARIANTS}


@pytest.mark.parametrize("variant", WORLD_VARIANTS)
def test_each_world_variant_converts_held_out_speakers_and_writes_audio(world_runs, variant):
    cfg = DEMO_CFG
    result, folder = world_runs[variant]
    assert result["test/pairs"] == 6 and result["train/pairs"] == 6
    assert result["speakers"] == {"train": ["01"], "val": ["02"], "test": ["03"]}
    pairs = pd.read_csv(folder / "pairs.csv")
    assert len(pairs) == 6 and pairs["source_id"].str.endswith("-03").all()
    for wav in pairs["wav"]:
        audio, sr = sf.read(folder / "audio" / wav)
        assert sr == 16000 and len(audio) > 0.2 * sr and np.abs(audio).max() > 0.01
    assert 0 < result["test/mcd_db"] < 30
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["test/mcd_db"] == pytest.approx(result["test/mcd_db"])
    for metric in ("speaker_sim", "dnsmos_ovrl", "dnsmos_ovrl_real", "dnsmos_ovrl_world_resynth",
                   "dnsmos_ovrl_vocoder"):
        assert np.isfinite(result[f"test/{metric}"]) and np.isfinite(pairs[metric]).all()
    assert -1 <= result["test/speaker_sim"] <= 1 and 1 <= result["test/dnsmos_ovrl"] <= 5
    for kind in ("", "_target", "_source"):
        assert 0 <= result[f"test/conversion_acc{kind}"] <= 1
    assert result["judge"]["variant"] == "egemaps_linear" and result["judge"]["chance"] == pytest.approx(1 / 3)
    assert set(pairs["judge_converted"]) <= set(cfg["emotions"])
    vocoder = result["test/dnsmos_ovrl_vocoder"]
    if variant == "no_conversion":  # its "vocoder" is the recording itself
        assert vocoder == pytest.approx(result["test/dnsmos_ovrl_real"])
    elif variant != "r1_unet8":
        assert vocoder == pytest.approx(result["test/dnsmos_ovrl_world_resynth"])
    if variant == "no_conversion":  # the judge hears the source recording itself
        assert (pairs["judge_converted"] == pairs["judge_source"]).all()
    if variant == "world_mlp":
        losses = result["converter"]["train_loss"]
        assert len(losses) == 4 and losses[-1] < losses[0]  # translate.world.model.world_mlp.epochs
    if variant == "r1_unet8":  # one training utterance, each of its 3 emotions in turn as the input
        assert result["converter"]["examples"] == 3 and len(result["converter"]["history"]) == 2
        assert (folder / "checkpoint.pt").is_file()
    if variant == "prosody_baseline":
        assert set(result["converter"]) == {f"{a}->{b}" for a in cfg["emotions"] for b in cfg["emotions"] if a != b}


def test_a_subset_that_leaves_nothing_is_a_clear_error(demo_index, tmp_path):
    from emoforge.train.translate_world import fit

    index, root = demo_index
    with pytest.raises(ValueError, match="no audio clips left"):
        fit({"emotions": ["bored"], "folds": 3}, index, root, tmp_path, "demo_speech", "no_conversion")
    with pytest.raises(ValueError, match=r"names \['08'\], who have no clips"):
        fit({"speakers": {"test": ["08"]}}, index, root, tmp_path, "demo_speech", "no_conversion")
    with pytest.raises(ValueError, match="has no column for"):
        fit({"subset": {"mood": "x"}, "folds": 3}, index, root, tmp_path, "demo_speech", "no_conversion")


def test_the_judge_learns_from_other_speakers_and_normalises_per_speaker():
    from emoforge.evaluate.judge import EmotionJudge

    rng = np.random.default_rng(0)
    rows = []
    for speaker in ("a", "b", "c", "d"):
        offset = rng.normal(0, 5, 88)  # each voice shifts every feature: per-speaker z-scores undo it
        for emotion_index, emotion in enumerate(("neutral", "angry", "sad")):
            for take in range(20):
                values = offset + rng.normal(0, 0.3, 88)
                values[emotion_index] += 3.0
                rows.append({"item_id": f"{speaker}{emotion}{take}", "speaker": speaker, "emotion": emotion,
                             **{f"egemaps_{i:03d}": v for i, v in enumerate(values)}})
    table = pd.DataFrame(rows)
    judge = EmotionJudge("egemaps_linear", table, ["neutral", "angry", "sad"], ["a", "b"], ["c"])
    test = table[table["speaker"] == "d"]
    heard = judge.predict(judge.vectors_of(test["item_id"]), test["speaker"])
    assert np.mean(np.array(heard) == test["emotion"].to_numpy()) > 0.9
    assert judge.val_ua > 0.9
    with pytest.raises(KeyError, match="no real clips of speaker"):
        judge.predict(judge.vectors_of(test["item_id"]), ["z"] * len(test))
    with pytest.raises(ValueError, match="must be a linear SER variant"):
        EmotionJudge("cnn_logmel", table, ["neutral"], ["a"], [])


def test_voice_embeddings_and_dnsmos_hear_what_they_should(demo_index):
    from emoforge.evaluate.voice import dnsmos, speaker_embedding
    from emoforge.features.audio import load_audio

    _, root = demo_index
    clip = load_audio(next(root.glob("Actor_01/03-01-01-01-01-01-01.wav")), SR)
    voice = speaker_embedding(clip, SR)
    assert voice.shape == (256,) and np.linalg.norm(voice) == pytest.approx(1.0, abs=1e-3)
    assert float(voice @ speaker_embedding(clip, SR)) == pytest.approx(1.0, abs=1e-5)
    import soxr
    at_8k = soxr.resample(clip, SR, 8000)
    assert float(voice @ speaker_embedding(at_8k, 8000)) > 0.9  # resampled to the model's rate
    clean = dnsmos(clip, SR)
    noisy = dnsmos(clip + 0.1 * np.random.default_rng(0).standard_normal(len(clip)).astype(np.float32), SR)
    assert set(clean) == {"sig", "bak", "ovrl"} and all(1 <= v <= 5 for v in clean.values())
    assert noisy["bak"] < clean["bak"] - 0.5


def test_world_mlp_moves_the_envelope_the_way_training_pairs_did():
    """Targets are the sources with a tilted spectrum: after training, a new source is tilted too,
    while pitch follows the prosody shift."""
    from emoforge.convert import get

    freqs = np.linspace(0, 1, 513)
    rng = np.random.default_rng(0)

    def clip(f0_hz, tilt, frames=120):
        envelope = 1e-2 * np.exp(-3 * freqs)[None] * np.exp(tilt * freqs)[None] * rng.uniform(0.8, 1.2, (frames, 1))
        f0 = np.full(frames, f0_hz) * rng.uniform(0.95, 1.05, frames)
        return World(f0=f0, envelope=envelope, aperiodicity=np.full((frames, 513), 0.1), sample_rate=SR)

    pairs = [(clip(120, 0.0), clip(150, -2.0), "neutral", "sad") for _ in range(12)]
    converter = get("world_mlp")(epochs=30, strength=1.0)
    converter.fit(pairs)
    source = clip(120, 0.0)

    def tilt_db(strength):
        converter.strength = strength
        converted = converter.convert(source, "neutral", "sad")
        gain_db = 10 * np.log10(converted.envelope.mean(0) / source.envelope.mean(0))
        return gain_db[-1] - gain_db[0], converted

    full_tilt, converted = tilt_db(1.0)
    assert full_tilt == pytest.approx(10 * np.log10(np.exp(-2.0)), abs=2.0)  # -8.7 dB
    assert np.median(converted.f0) == pytest.approx(150, rel=0.05)
    assert tilt_db(0.5)[0] == pytest.approx(full_tilt / 2, abs=0.5)  # the change is log-linear


def _steady_clip(aperiodicity: float, frames: int = 40) -> World:
    return World(f0=np.full(frames, 120.0), envelope=np.full((frames, 513), 1e-3),
                 aperiodicity=np.full((frames, 513), aperiodicity), sample_rate=SR)


def test_world_mlp_moves_aperiodicity_the_way_training_pairs_did():
    """Breathier targets (aperiodicity 0.1 -> 0.3 when voiced): a new source gets breathier."""
    from emoforge.convert import get

    converter = get("world_mlp")(epochs=1)
    converter.fit([(_steady_clip(0.1), _steady_clip(0.3), "neutral", "sad")] * 3)
    converted = converter.convert(_steady_clip(0.2), "neutral", "sad")
    assert np.median(converted.aperiodicity) == pytest.approx(0.6, rel=0.05)  # 0.2 * 3
    converter.aperiodicity_shift = 0.0
    converted = converter.convert(_steady_clip(0.2), "neutral", "sad")
    assert np.median(converted.aperiodicity) == pytest.approx(0.2)
    converter.aperiodicity_shift = 1.0
    assert converter.convert(_steady_clip(0.5), "neutral", "sad").aperiodicity.max() <= 1.0


def test_world_mlp_model_files_keep_their_settings():
    from emoforge.convert import get

    assert get("world_mlp")().strength == 0.75  # the default the validation speakers chose
    with pytest.raises(ValueError, match="strength"):
        get("world_mlp")(strength=0.0)
    with pytest.raises(ValueError, match="aperiodicity_shift"):
        get("world_mlp")(aperiodicity_shift=-1.0)
    converter = get("world_mlp")(epochs=1, strength=0.5, aperiodicity_shift=0.5)
    converter.fit([(_steady_clip(0.1), _steady_clip(0.3), "neutral", "sad")] * 2)
    state = converter.state()
    loaded = type(converter).from_state(state)
    assert (loaded.strength, loaded.aperiodicity_shift) == (0.5, 0.5)
    assert np.allclose(loaded.aperiodicity_shifts[("neutral", "sad")], np.log(3.0))
    del state["settings"]["strength"], state["settings"]["aperiodicity_shift"]
    del state["aperiodicity_shifts"]  # a file written before these settings existed
    loaded = type(converter).from_state(state)
    assert (loaded.strength, loaded.aperiodicity_shift) == (1.0, 0.0)


def test_the_report_page_plays_source_target_and_every_conversion(world_runs, tmp_path):
    from emoforge.report.build import build

    metrics = [str(folder / "metrics.json") for _, folder in world_runs.values()]
    rows = build({"translate": {"listen_pairs": 2}}, tmp_path, translate=metrics)
    assert {r["variant"] for r in rows} == set(WORLD_VARIANTS)
    page = (tmp_path / "report.html").read_text()
    assert page.count("<audio controls") == 2 * (2 + len(WORLD_VARIANTS))
    sources = [part.split('"')[0] for part in page.split('src="')[1:]]
    assert len(sources) == 2 * 2 * (2 + len(WORLD_VARIANTS))  # a player and a picture per clip
    for src in sources:
        assert (tmp_path / src).stat().st_size > 1000, src
    assert "<th>world_mlp</th>" in page and "<table>" in page and "heard as target" in page
    md = (tmp_path / "report.md").read_text()
    assert "| demo_speech (synthetic) | prosody_baseline |" in md and "Judge: egemaps_linear" in md


def _translate(*args):
    from emoforge.cli import main
    main(["translate", *map(str, args)])


def test_translate_cli_converts_any_clip_with_a_trained_model(world_runs, demo_index, tmp_path):
    _, root = demo_index
    clip = root / "Actor_03" / "03-01-01-01-02-02-03.wav"  # a sentence and take no test pair used
    for variant in ("prosody_baseline", "world_mlp"):
        out = tmp_path / f"{variant}.wav"
        _translate(clip, "--to", "angry", "-o", out, "--model", world_runs[variant][1] / "model.pt")
        audio, sr = sf.read(out)
        source, _ = sf.read(clip)
        assert sr == 16000 and np.abs(audio).max() > 0.01
        shift = world_runs[variant][0]["converter"]
        rate = (shift if variant == "prosody_baseline" else shift["prosody"])["neutral->angry"]["rate"]
        assert len(audio) == pytest.approx(len(source) * rate, rel=0.05)
    out = tmp_path / "r1_unet8.wav"  # R1's generator reads from 1 s in and keeps the length
    _translate(clip, "--to", "angry", "-o", out, "--model", world_runs["r1_unet8"][1] / "model.pt")
    audio, sr = sf.read(out)
    assert sr == 16000 and len(audio) == pytest.approx(len(source) - sr, abs=0.04 * sr)


def test_translate_cli_errors_say_what_is_wrong(world_runs, tmp_path, caplog):
    import torch

    model = world_runs["world_mlp"][1] / "model.pt"
    good = tmp_path / "good.wav"
    sf.write(good, voiced_tone(150.0), SR)
    empty, noise, long_clip = tmp_path / "empty.wav", tmp_path / "noise.wav", tmp_path / "long.wav"
    empty.write_bytes(b"")
    noise.write_bytes(np.random.default_rng(0).bytes(4000))
    sf.write(long_clip, np.zeros(120 * SR, dtype=np.float32), SR)
    ser_model = tmp_path / "ser.pt"
    torch.save({"task": "ser", "model": {"w": torch.zeros(2)}}, ser_model)
    cases = [((good, "--to", "bored"), "--to 'bored': this model knows"),
             ((good, "--to", "angry", "--from", "calm"), "--from 'calm'"),
             ((empty, "--to", "angry"), "not audio that libsndfile can read"),
             ((noise, "--to", "angry"), "not audio that libsndfile can read"),
             ((long_clip, "--to", "angry"), "lasts 120.00 s"),
             ((tmp_path / "missing.wav", "--to", "angry"), "no such file")]
    for args, message in cases:
        caplog.clear()
        with pytest.raises(SystemExit):
            _translate(*args, "-o", tmp_path / "out.wav", "--model", model)
        assert message in caplog.text, (args, caplog.text)
    caplog.clear()
    with pytest.raises(SystemExit):
        _translate(good, "--to", "angry", "-o", tmp_path / "out.wav", "--model", ser_model)
    assert "not an emoforge WORLD translation model (it holds ser)" in caplog.text
    assert not (tmp_path / "out.wav").exists()


def test_settings_are_compared_on_validation_speakers_without_touching_the_test_ones(demo_index, tmp_path):
    from emoforge.train.translate_world import fit

    index, root = demo_index
    result = fit({**DEMO_CFG, "evaluate_on": "val"}, index, root, tmp_path, "demo_speech", "prosody_baseline",
                 judge_table=root / "features" / "egemaps.parquet")
    assert result["val/pairs"] == 6 and not any(k.startswith("test/") for k in result)
    pairs = pd.read_csv(tmp_path / "pairs.csv")
    assert pairs["source_id"].str.endswith("-02").all()  # speaker 02 validates
    assert result["judge"]["val_ua"] is None  # the judge did not learn from the speaker it judges
