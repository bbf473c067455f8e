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


class GaussianBlur(nn.Module):
    """A fixed (untrained) Gaussian low-pass over 1-channel images; sigma 0 passes them through.

    Part of the classifier, so every face it reads (training, test, generated, a user's photo)
    is seen at the same sharpness as the training faces were."""

    def __init__(self, sigma: float):
        super().__init__()
        self.sigma = float(sigma)
        radius = math.ceil(3 * self.sigma)
        taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1) / max(self.sigma, 1e-6)) ** 2)
        self.register_buffer("taps", (taps / taps.sum()).float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.sigma <= 0:
            return x
        r = len(self.taps) // 2
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), self.taps.view(1, 1, 1, -1).to(x.dtype))
        return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), self.taps.view(1, 1, -1, 1).to(x.dtype))


class FaceEmotionCNN(nn.Module):
    def __init__(self, n_classes: int = 7, width: int = 32, embed_dim: int = 256,
                 dropout: float = 0.5, input_blur: float = 0.0):
        super().__init__()
        self.blur = GaussianBlur(input_blur)
        # 48 -> 24 -> 12 -> 6 -> 3: flattened, not pooled, because an expression is *where*
        # the brows and the mouth are
        self.features = nn.Sequential(*_convs(1, width, 1), *_convs(width, 2 * width, 2),
                                      *_convs(2 * width, 4 * width, 2),
                                      *_convs(4 * width, 8 * width, 2), nn.Flatten())
        self.embedding = nn.Sequential(nn.Dropout(dropout), nn.Linear(8 * width * 9, embed_dim),
                                       nn.BatchNorm1d(embed_dim), nn.ReLU(True))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed_dim, n_classes))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate features: where FID, KID and diversity are measured."""
        return self.embedding(self.features(self.blur(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
