"""Conditional DCGAN for 48x48 faces (R3): label-conditioned generator and a
4-convolution discriminator, plus the small CNN that scores generated faces."""
from __future__ import annotations

import torch
from torch import nn


class FaceGenerator(nn.Module):
    def __init__(self, n_classes: int, z_dim: int = 64, width: int = 64):
        super().__init__()
        self.z_dim, self.width = z_dim, width
        self.embed = nn.Embedding(n_classes, 32)
        self.fc = nn.Sequential(nn.Linear(z_dim + 32, width * 4 * 6 * 6, bias=False),
                                nn.BatchNorm1d(width * 4 * 6 * 6), nn.ReLU(True))
        up = lambda a, b: [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]  # noqa: E731
        self.net = nn.Sequential(*up(width * 4, width * 2), *up(width * 2, width),
                                 nn.ConvTranspose2d(width, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.fc(torch.cat([z, self.embed(y)], 1)).view(-1, self.width * 4, 6, 6)
        return self.net(h)


class FaceDiscriminator(nn.Module):
    """Four convolutions, then a projection head (Miyato & Koyama 2018): the label's
    embedding is dotted with the image features, which makes the label hard to ignore."""

    def __init__(self, n_classes: int, width: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width * 2, width * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 4), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width * 4, width * 4, 6, 1, 0), nn.LeakyReLU(0.2, True), nn.Flatten())
        self.fc = nn.Linear(width * 4, 1)
        self.embed = nn.Embedding(n_classes, width * 4)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.net(x)
        return self.fc(h).view(-1) + (self.embed(y) * h).sum(1)


def generator_and_discriminator(n_classes: int, **options) -> tuple[FaceGenerator, FaceDiscriminator]:
    return FaceGenerator(n_classes, **options), FaceDiscriminator(n_classes)


class FaceClassifier(nn.Module):
    """Judge for generated faces: trained on the real training faces only."""

    def __init__(self, n_classes: int, width: int = 32):
        super().__init__()
        block = lambda a, b: [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True), nn.MaxPool2d(2)]  # noqa: E731
        self.net = nn.Sequential(*block(1, width), *block(width, width * 2), *block(width * 2, width * 4),
                                 # flatten, not global pooling: an expression is where the brows and mouth are
                                 nn.Flatten(), nn.Dropout(0.3), nn.Linear(width * 4 * 6 * 6, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
