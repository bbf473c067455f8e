"""R1 (r1_unet8) as its code has it: the spectrogram image, its inversion, the 8-channel
examples, the networks' shapes, and a training that resumes instead of starting over."""
import numpy as np
import pytest
import torch

from emoforge.convert.r1 import (HOP, SAMPLE_RATE, SIZE, R1Image, R1UNetConverter, read_image, to_audio,
                                 utterances)
from emoforge.models.translate_r1 import r1_generator_and_discriminator


def chirp(seconds: float = 3.0, f0: float = 200.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * f0 * (1 + t) * t)).astype(np.float32)


def test_the_image_is_r1s_log_mel_from_one_second_in_scaled_to_0_255():
    image = read_image(chirp(3.0))
    assert image.pixels.shape == (SIZE, SIZE) and image.pixels.dtype == np.float32
    assert image.pixels.min() >= 0 and image.pixels.max() <= 255 and image.pixels.max() > 250
    assert image.frames == 2 * SAMPLE_RATE // HOP + 1  # 2 s left after the 1 s offset, centred frames
    assert image.high > image.low
    with pytest.raises(ValueError, match="from 1.0 s in"):
        read_image(chirp(1.02))


def test_inverting_the_image_gives_audio_of_the_source_length_and_pitch():
    source = chirp(3.0, f0=150.0)
    image = read_image(source)
    audio = to_audio(image.pixels, image, n_iter=16)
    assert abs(len(audio) - 2 * SAMPLE_RATE) <= HOP
    assert np.abs(audio).max() == pytest.approx(0.9)
    again = read_image(np.concatenate([np.zeros(SAMPLE_RATE, np.float32), audio]))
    rows = again.pixels.argmax(0)[10:-10], image.pixels.argmax(0)[10:-10]  # the chirp's band per frame
    assert np.median(np.abs(rows[0] - rows[1])) <= 2


def _image(value: float) -> R1Image:
    return R1Image(np.full((SIZE, SIZE), value, np.float32), -10.0, 0.0, 100)


def test_each_source_predicts_every_emotion_of_its_utterance_itself_included():
    emotions = ["angry", "neutral", "sad"]
    clips = {e: _image(v) for e, v in zip(emotions, (10.0, 20.0, 30.0))}
    pairs = [(clips[s], clips[t], s, t) for s in emotions for t in emotions if s != t]
    lonely = _image(99.0)  # an utterance recorded in two emotions only: R1 cannot use it
    pairs.append((lonely, clips["sad"], "neutral", "sad"))
    inputs, targets = utterances(pairs, emotions)
    assert inputs.shape == (3, 1, SIZE, SIZE) and targets.shape == (3, 3, SIZE, SIZE)
    assert sorted(inputs[:, 0, 0, 0]) == [10.0, 20.0, 30.0]
    assert (targets[:, :, 0, 0] == [10.0, 20.0, 30.0]).all()
    with pytest.raises(ValueError, match="all of"):
        utterances(pairs[-1:], emotions)


def test_the_networks_are_r1s_shapes():
    generator, discriminator = r1_generator_and_discriminator(8)
    out = generator(torch.zeros(2, 1, SIZE, SIZE))
    assert out.shape == (2, 8, SIZE, SIZE)
    assert discriminator(torch.cat([torch.zeros(2, 1, SIZE, SIZE), out], 1)).shape == (2, 1, 2, 2)
    assert generator.down[-1][0].weight.shape == (512, 256, 7, 7)
    assert generator.out.weight.shape == (8, 32, 1, 1)
    assert discriminator[0].weight.shape == (64, 9, 4, 4)


def test_an_interrupted_training_resumes_where_it_stopped(tmp_path):
    emotions = ["angry", "sad"]
    rng = np.random.default_rng(0)
    clips = [{e: R1Image(rng.uniform(0, 255, (SIZE, SIZE)).astype(np.float32), -10.0, 0.0, 90)
              for e in emotions} for _ in range(2)]
    pairs = [(u["angry"], u["sad"], "angry", "sad") for u in clips]
    settings = {"batch_size": 2, "seed": 3, "device": "cpu"}
    straight = R1UNetConverter(epochs=2, **settings)
    straight.fit(pairs)
    stopped = R1UNetConverter(epochs=1, **settings)
    stopped.fit(pairs, checkpoint=tmp_path / "checkpoint.pt")
    resumed = R1UNetConverter(epochs=2, **settings)
    resumed.fit(pairs, checkpoint=tmp_path / "checkpoint.pt")
    assert [row["epoch"] for row in resumed.history] == [0, 1]
    for row, same in zip(resumed.history, straight.history):
        assert row == pytest.approx(same)
    weights = straight.generator.state_dict(), resumed.generator.state_dict()
    assert all(torch.allclose(weights[0][k].float(), weights[1][k].float(), atol=1e-5) for k in weights[0])
    again = R1UNetConverter.from_state(resumed.state())
    image = clips[0]["angry"]
    assert np.allclose(again.convert(image, "angry", "sad"), resumed.convert(image, "angry", "sad"))
    with pytest.raises(KeyError, match="not 'happy'"):
        resumed.convert(image, "angry", "happy")
