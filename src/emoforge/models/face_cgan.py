"""Conditional GANs for 48x48 faces.

- `R3Generator` / `R3Discriminator`: R3's Keras cGAN as its notebook builds it.
- `FaceGenerator` / `FaceDiscriminator`: ours (`cgan`), a DCGAN generator and a projection
  discriminator; `spectral=True` (variant `sngan_proj`) spectrally normalises the
  discriminator for the hinge loss; `auxiliary=True` (variant `sngan_proj_ac`) adds a class
  head on the discriminator's features (AC-GAN, Odena et al. 2017)."""
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

    def __init__(self, n_classes: int, width: int = 64, spectral: bool = False,
                 auxiliary: bool = False):
        super().__init__()
        # spectral normalisation bounds the Lipschitz constant itself, so it replaces BatchNorm
        norm = nn.utils.parametrizations.spectral_norm if spectral else (lambda m: m)
        bn = (lambda c: nn.Identity()) if spectral else nn.BatchNorm2d
        self.net = nn.Sequential(
            norm(nn.Conv2d(1, width, 4, 2, 1)), nn.LeakyReLU(0.2, True),
            norm(nn.Conv2d(width, width * 2, 4, 2, 1, bias=spectral)), bn(width * 2), nn.LeakyReLU(0.2, True),
            norm(nn.Conv2d(width * 2, width * 4, 4, 2, 1, bias=spectral)), bn(width * 4),
            nn.LeakyReLU(0.2, True),
            norm(nn.Conv2d(width * 4, width * 4, 6, 1, 0)), nn.LeakyReLU(0.2, True), nn.Flatten())
        self.fc = norm(nn.Linear(width * 4, 1))
        self.embed = norm(nn.Embedding(n_classes, width * 4))
        # the auxiliary classifier: trained on real faces, it tells G which class a fake reads as
        self.classify = norm(nn.Linear(width * 4, n_classes)) if auxiliary else None

    def forward(self, x: torch.Tensor, y: torch.Tensor, with_classes: bool = False):
        """The real/fake logit of x for label y; with_classes: also the class head's logits."""
        h = self.net(x)
        logit = self.fc(h).view(-1) + (self.embed(y) * h).sum(1)
        return (logit, self.classify(h)) if with_classes else logit


def generator_and_discriminator(n_classes: int, spectral: bool = False, auxiliary: bool = False,
                                **options) -> tuple[FaceGenerator, FaceDiscriminator]:
    discriminator = FaceDiscriminator(n_classes, spectral=spectral, auxiliary=auxiliary)
    return FaceGenerator(n_classes, **options), discriminator


class R3Generator(nn.Module):
    """z (100) -> dense 12x12x128 (LeakyReLU) beside a 12x12 map of the label's 50-d embedding;
    two 4x4 stride-2 transposed convolutions of 128 (LeakyReLU); a 12x12 convolution, tanh."""

    def __init__(self, n_classes: int, z_dim: int = 100):
        super().__init__()
        self.z_dim = z_dim
        self.label_map = nn.Sequential(nn.Embedding(n_classes, 50), nn.Linear(50, 12 * 12))
        self.project = nn.Sequential(nn.Linear(z_dim, 128 * 12 * 12), nn.LeakyReLU(0.2))
        self.net = nn.Sequential(
            nn.ConvTranspose2d(129, 128, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.ZeroPad2d((5, 6, 5, 6)),  # Keras' padding="same" for an even 12x12 kernel
            nn.Conv2d(128, 1, 12), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, 128, 12, 12)
        return self.net(torch.cat([h, self.label_map(y).view(-1, 1, 12, 12)], 1))


class R3Discriminator(nn.Module):
    """The label's 50-d embedding, densely mapped to a 48x48 second image channel; 3x3
    convolutions 32 (stride 2), 64 (stride 2), 128, 128 with LeakyReLU 0.2; dropout 0.2; one
    logit (R3's sigmoid lives in the BCE loss)."""

    def __init__(self, n_classes: int):
        super().__init__()
        self.label_map = nn.Sequential(nn.Embedding(n_classes, 50), nn.Linear(50, 48 * 48))
        self.net = nn.Sequential(
            nn.Conv2d(2, 32, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(128, 128, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Dropout(0.2), nn.Linear(128 * 12 * 12, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, self.label_map(y).view(-1, 1, 48, 48)], 1)).view(-1)


def r3_generator_and_discriminator(n_classes: int, z_dim: int = 100) -> tuple[R3Generator, R3Discriminator]:
    return R3Generator(n_classes, z_dim), R3Discriminator(n_classes)
