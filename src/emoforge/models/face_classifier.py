"""Facial-emotion classifier for 48x48 grayscale faces: a VGG-style CNN (one convolution at full
resolution, then three blocks of two), the shape of the strongest single CNNs on FER-2013.

It is a product (`emoforge face-emotion`) and the yardstick of every face generator: its
penultimate layer is the feature space of the generators' FID, KID and diversity."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _convs(n_in: int, n_out: int, count: int) -> list[nn.Module]:
    layers = []
    for k in range(count):
        layers += [nn.Conv2d(n_in if k == 0 else n_out, n_out, 3, padding=1, bias=False),
                   nn.BatchNorm2d(n_out), nn.ReLU(True)]
    return layers + [nn.MaxPool2d(2)]


def gaussian_taps(sigma: float, radius: int) -> torch.Tensor:
    """A normalised 1-D Gaussian of 2 * radius + 1 taps; sigma 0 is the identity."""
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    if sigma <= 0:
        return (offsets == 0).float()
    taps = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return taps / taps.sum()


class GaussianBlur(nn.Module):
    """A fixed (untrained) Gaussian low-pass over 1-channel images; sigma 0 passes them through.

    Part of the classifier, so every face it reads (training, test, generated, a user's photo)
    is seen at the same sharpness as the training faces were."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = float(sigma)
        taps = gaussian_taps(self.sigma, math.ceil(3 * self.sigma))
        self.register_buffer("taps", taps, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.sigma <= 0:
            return x
        r = len(self.taps) // 2
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), self.taps.view(1, 1, 1, -1).to(x.dtype))
        return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), self.taps.view(1, 1, -1, 1).to(x.dtype))


def face_sharpness(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between horizontal neighbours per image, on the 0-255 scale
    (images in [-1, 1]); the leading dimensions are kept."""
    return (x[..., 1:] - x[..., :-1]).abs().mean((-2, -1)) * 127.5


class SharpnessCap(nn.Module):
    """Blurs each face sharper than `cap` just enough to bring it down to it (the least of a
    ladder of Gaussian sigmas that does); blurrier faces pass unchanged. 0 turns it off.

    Unlike one global low-pass, it leaves faces that are already as blurred as the training
    faces alone, so training and test faces meet at one sharpness without blurring twice."""

    SIGMAS = tuple(0.25 * k for k in range(33))  # 0 to 8 px

    def __init__(self, cap: float):
        super().__init__()
        self.cap = float(cap)
        radius = math.ceil(3 * self.SIGMAS[-1])
        bank = torch.stack([gaussian_taps(s, radius) for s in self.SIGMAS])
        self.register_buffer("bank", bank, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.cap <= 0:
            return x
        above = face_sharpness(x)[:, 0] > self.cap
        if not above.any():
            return x
        capped = x.clone()
        capped[above] = self._ladder(x[above])  # faces under the cap keep sigma 0: themselves
        return capped

    def _ladder(self, x: torch.Tensor) -> torch.Tensor:
        n_sigmas, width = self.bank.shape
        r = width // 2
        bank = self.bank.to(x.dtype)
        ladder = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), bank.view(n_sigmas, 1, 1, width))
        ladder = F.conv2d(F.pad(ladder, (0, 0, r, r), mode="replicate"),
                          bank.view(n_sigmas, 1, width, 1), groups=n_sigmas)
        within = face_sharpness(ladder) <= self.cap
        # the first sigma that meets the cap; the widest when none does
        chosen = torch.where(within.any(1), within.float().argmax(1), n_sigmas - 1)
        return ladder[torch.arange(len(x), device=x.device), chosen][:, None]


class FaceEmotionCNN(nn.Module):
    def __init__(self, n_classes: int = 7, width: int = 32, embed_dim: int = 256,
                 dropout: float = 0.5, input_blur: float = 0.0, sharpness_cap: float = 0.0):
        super().__init__()
        self.blur = GaussianBlur(input_blur)
        self.cap = SharpnessCap(sharpness_cap)
        # 48 -> 24 -> 12 -> 6 -> 3: flattened, not pooled, because an expression is *where*
        # the brows and the mouth are
        self.features = nn.Sequential(*_convs(1, width, 1), *_convs(width, 2 * width, 2),
                                      *_convs(2 * width, 4 * width, 2),
                                      *_convs(4 * width, 8 * width, 2), nn.Flatten())
        self.embedding = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * width * 9, embed_dim),
                                       nn.BatchNorm1d(embed_dim), nn.ReLU(True))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed_dim, n_classes))

    def input_filter(self, x: torch.Tensor) -> torch.Tensor:
        """The fixed (untrained) low-pass and sharpness cap every face goes through first:
        training applies it once to its faces rather than at every step."""
        return self.cap(self.blur(x))

    def embed_filtered(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(self.features(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate features: where FID, KID and diversity are measured."""
        return self.embed_filtered(self.input_filter(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
