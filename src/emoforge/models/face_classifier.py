"""Facial-emotion classifier for 48x48 grayscale faces: a VGG-style CNN (one convolution at full
resolution, then three blocks of two), the shape of the strongest single CNNs on FER-2013.

It is a product (`emoforge face-emotion`) and the yardstick of every face generator: its
penultimate layer is the feature space of the generators' FID, KID and diversity."""
from __future__ import annotations

import torch
from torch import nn


def _convs(n_in: int, n_out: int, count: int) -> list[nn.Module]:
    layers = []
    for k in range(count):
        layers += [nn.Conv2d(n_in if k == 0 else n_out, n_out, 3, padding=1, bias=False),
                   nn.BatchNorm2d(n_out), nn.ReLU(True)]
    return layers + [nn.MaxPool2d(2)]


class FaceEmotionCNN(nn.Module):
    def __init__(self, n_classes: int = 7, width: int = 32, embed_dim: int = 256,
                 dropout: float = 0.5):
        super().__init__()
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
        return self.embedding(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
