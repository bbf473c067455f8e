"""R1 as its code did it (r1_unet8): spectrogram images in, 8 emotions' images out, Griffin-Lim.

Each clip is read as R1's notebook read it: 22.05 kHz from 1 s in (10 s at most), a 128-band
mel power spectrogram (n_fft 1024, hop 512), natural log, min-max scaled to 0..255 and
quantised (R1 saved PNGs), then stretched in time to 128 x 128. The range and the length are
kept, so that a generated image can be turned back into sound: R1's notebook played audio, but
its inversion code is not published; Griffin-Lim is what a librosa user of the time had.

Training follows R1's train(): per batch of 2, one D step on (input, 8 real) vs (input, 8
generated) with two-sided noisy labels, then one G step on BCE + l1_weight x L1."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..models.translate_r1 import r1_generator_and_discriminator
from ..numba_cache import import_librosa
from ..train.common import Checkpoint, begin

SAMPLE_RATE, OFFSET_S, DURATION_S = 22050, 1.0, 10.0
N_FFT, HOP, N_MELS, SIZE = 1024, 512, 128, 128


@dataclass(frozen=True)
class R1Image:
    """One clip as R1 stored it, with what inverting the scaling needs."""
    pixels: np.ndarray  # (SIZE, SIZE) float32 in 0..255, mel bands by time
    low: float          # the log-mel value scaled to 0
    high: float         # the log-mel value scaled to 255
    frames: int         # mel frames before the time axis was stretched to SIZE


def _resize(image: np.ndarray, frames: int) -> np.ndarray:
    """Bilinear in time (half-pixel centres, as cv2.resize): (N_MELS, T) -> (N_MELS, frames)."""
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    return F.interpolate(tensor, size=(image.shape[0], frames), mode="bilinear",
                         align_corners=False)[0, 0].numpy()


def read_image(audio: np.ndarray) -> R1Image:
    """audio at SAMPLE_RATE -> R1's image of it."""
    librosa = import_librosa()
    start = int(OFFSET_S * SAMPLE_RATE)
    kept = audio[start:start + int(DURATION_S * SAMPLE_RATE)]
    if len(kept) < N_FFT:
        raise ValueError(f"R1 reads from {OFFSET_S} s in; this clip has {len(audio) / SAMPLE_RATE:.2f} s")
    mel = librosa.feature.melspectrogram(y=kept, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP,
                                         n_mels=N_MELS)
    log_mel = np.log(mel + 1e-9)
    low, high = float(log_mel.min()), float(log_mel.max())
    scaled = np.round((log_mel - low) / max(high - low, 1e-9) * 255).astype(np.uint8)
    return R1Image(_resize(scaled, SIZE), low, high, log_mel.shape[1])


def to_audio(pixels: np.ndarray, like: R1Image, n_iter: int = 32) -> np.ndarray:
    """A (SIZE, SIZE) image on R1's 0..255 scale -> waveform at SAMPLE_RATE, with the scaling
    and length of `like` (the source clip: the target's are unknown at conversion time)."""
    librosa = import_librosa()
    scaled = np.clip(_resize(pixels, like.frames), 0, 255) / 255
    mel = np.exp(scaled * (like.high - like.low) + like.low)
    magnitude = librosa.feature.inverse.mel_to_stft(mel, sr=SAMPLE_RATE, n_fft=N_FFT)
    # a fixed random start for the phases: the same image always sounds the same
    audio = librosa.griffinlim(magnitude, n_iter=n_iter, hop_length=HOP, random_state=0)
    # R1's notebook ends in Jupyter audio players, which scale each clip to its peak by default
    return (0.9 * audio / max(float(np.abs(audio).max()), 1e-9)).astype(np.float32)


def utterances(pairs, emotions: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """R1's examples from (source, target, source emotion, target emotion) pairs: each source
    clip in, every emotion of its utterance out (itself in its own emotion's channel). A
    source whose utterance lacks an emotion is left out: R1's 8-channel target needs all."""
    by_source: dict[int, tuple[R1Image, dict[str, R1Image]]] = {}
    for source, target, source_emotion, target_emotion in pairs:
        _, outs = by_source.setdefault(id(source), (source, {source_emotion: source}))
        outs[target_emotion] = target
    inputs, targets = [], []
    for source, outs in by_source.values():
        if set(emotions) <= set(outs):
            inputs.append(source.pixels[None])
            targets.append(np.stack([outs[e].pixels for e in emotions]))
    if not inputs:
        raise ValueError(f"r1_unet8 needs utterances recorded in all of {emotions}; none are")
    return np.stack(inputs), np.stack(targets)


class R1UNetConverter:
    resynthesises = True
    reads = "audio"
    sample_rate = SAMPLE_RATE

    def __init__(self, epochs: int = 50, batch_size: int = 2, lr_g: float = 2e-4, lr_d: float = 1e-4,
                 l1_weight: float = 0.01, label_smoothing: float = 0.1, griffin_lim_iters: int = 32,
                 seed: int = 0, device: str = "auto"):
        self.settings = {"epochs": epochs, "batch_size": batch_size, "lr_g": lr_g, "lr_d": lr_d,
                         "l1_weight": l1_weight, "label_smoothing": label_smoothing,
                         "griffin_lim_iters": griffin_lim_iters, "seed": seed}
        self.device = device
        self.emotions: list[str] = []
        self.generator: torch.nn.Module | None = None
        self.history: list[dict] = []
        self.examples = 0

    def read(self, audio: np.ndarray) -> R1Image:
        return read_image(audio)

    def fit(self, pairs, checkpoint: Path | None = None) -> None:
        pairs = list(pairs)
        self.emotions = sorted({e for *_, s, t in pairs for e in (s, t)})
        inputs, targets = utterances(pairs, self.emotions)
        self.examples = len(inputs)
        _, generator_rng, device = begin({"seed": self.settings["seed"], "device": self.device})
        G, D = (net.to(device) for net in r1_generator_and_discriminator(len(self.emotions)))
        opt_g = torch.optim.Adam(G.parameters(), lr=self.settings["lr_g"])
        opt_d = torch.optim.Adam(D.parameters(), lr=self.settings["lr_d"])
        saved = None
        if checkpoint is not None:
            saved = Checkpoint(checkpoint, self.settings | {"emotions": self.emotions,
                                                            "examples": self.examples},
                               G=G, D=D, opt_g=opt_g, opt_d=opt_d)
        progress = (saved.resume(device, generator_rng) if saved else None) or {"epoch": -1, "history": []}
        self.history = progress["history"]
        bce = torch.nn.BCEWithLogitsLoss()
        smoothing, batch = self.settings["label_smoothing"], self.settings["batch_size"]
        x_all, y_all = torch.from_numpy(inputs), torch.from_numpy(targets)
        for epoch in tqdm(range(progress["epoch"] + 1, self.settings["epochs"]), desc="r1_unet8",
                          unit="epoch"):
            G.train()
            D.train()
            sums = {"d_real": 0.0, "d_fake": 0.0, "g_bce": 0.0, "g_l1": 0.0}
            order = torch.randperm(len(x_all), generator=generator_rng)
            for rows in order.split(batch):
                x, real = x_all[rows].to(device), y_all[rows].to(device)
                fake = G(x)
                # the D step: R1 scores the fake before the update and reuses that verdict
                verdict_fake = D(torch.cat([x, fake.detach()], 1))
                verdict_real = D(torch.cat([x, real], 1))
                ones = 1 - smoothing * torch.rand(verdict_real.shape, device=device)
                zeros = smoothing * torch.rand(verdict_fake.shape, device=device)
                loss_real, loss_fake = bce(verdict_real, ones), bce(verdict_fake, zeros)
                opt_d.zero_grad()
                (loss_real + loss_fake).backward()
                opt_d.step()
                # the G step, against the updated D, with the same noisy "real" labels
                loss_bce = bce(D(torch.cat([x, fake], 1)), ones)
                loss_l1 = F.l1_loss(fake, real)
                opt_g.zero_grad()
                (loss_bce + self.settings["l1_weight"] * loss_l1).backward()
                opt_g.step()
                for name, value in zip(sums, (loss_real, loss_fake, loss_bce, loss_l1)):
                    sums[name] += value.item() * len(rows)
            self.history.append({"epoch": epoch} | {k: v / len(x_all) for k, v in sums.items()})
            if saved:
                saved.save({"epoch": epoch, "history": self.history}, generator_rng)
        self.generator = G.cpu().eval()

    def resynthesise(self, image: R1Image) -> np.ndarray:
        """The image itself back to audio: what R1's representation and Griffin-Lim keep."""
        return to_audio(image.pixels, image, self.settings["griffin_lim_iters"])

    def convert(self, image: R1Image, source: str, target: str) -> np.ndarray:
        """The target emotion's channel of the generator's output, as audio at SAMPLE_RATE."""
        if target not in self.emotions:
            raise KeyError(f"r1_unet8 writes {self.emotions}, not {target!r}")
        torch.set_num_threads(1)  # converters run one per worker process
        with torch.no_grad():
            out = self.generator(torch.from_numpy(image.pixels)[None, None])
        pixels = out[0, self.emotions.index(target)].numpy()
        return to_audio(pixels, image, self.settings["griffin_lim_iters"])

    def directions(self) -> list[tuple[str, str]]:
        return [(s, t) for s in self.emotions for t in self.emotions if s != t]

    def describe(self) -> dict:
        return {"emotions": self.emotions, "examples": self.examples, "history": self.history} | self.settings

    def state(self) -> dict:
        """Tensors and plain types only: model files are read with weights_only=True."""
        return {"settings": self.settings, "emotions": self.emotions, "history": self.history,
                "examples": self.examples, "generator": self.generator.state_dict()}

    @classmethod
    def from_state(cls, state: dict) -> "R1UNetConverter":
        converter = cls(**state["settings"])
        converter.emotions, converter.history = list(state["emotions"]), list(state["history"])
        converter.examples = int(state["examples"])
        generator, _ = r1_generator_and_discriminator(len(converter.emotions))
        generator.load_state_dict(state["generator"])
        converter.generator = generator.eval()
        return converter
