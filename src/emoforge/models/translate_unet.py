"""Emotion translation on log-mel 'images' (R1): a conditional UNet generator and a
PatchGAN discriminator. The target emotion enters as one-hot planes beside the input."""
from __future__ import annotations

import torch
from torch import nn


def _down(c_in: int, c_out: int, norm: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2, inplace=True))


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def _planes(x: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    return onehot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])


class UNetGenerator(nn.Module):
    """(B, 1, mels, T) source + (B, E) target one-hot -> (B, 1, mels, T); predicts a residual."""

    def __init__(self, n_emotions: int, width: int = 32, depth: int = 4):
        super().__init__()
        chans = [width * 2 ** i for i in range(depth)]
        self.downs = nn.ModuleList([_down(1 + n_emotions, chans[0], norm=False)] +
                                   [_down(a, b) for a, b in zip(chans, chans[1:])])
        ups = [_up(chans[-1], chans[-2])]
        for i in range(depth - 2, 0, -1):
            ups.append(_up(chans[i] * 2, chans[i - 1]))
        self.ups = nn.ModuleList(ups)
        self.out = nn.ConvTranspose2d(chans[0] * 2, 1, 4, 2, 1)

    def forward(self, x: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        h, skips = torch.cat([x, _planes(x, onehot)], 1), []
        for down in self.downs:
            h = down(h)
            skips.append(h)
        skips.pop()
        for up in self.ups:
            h = torch.cat([up(h), skips.pop()], 1)
        return x + self.out(h)


class PatchDiscriminator(nn.Module):
    """Scores (source, candidate, emotion) patch by patch: real pair or generated."""

    def __init__(self, n_emotions: int, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(_down(2 + n_emotions, width, norm=False), _down(width, width * 2),
                                 _down(width * 2, width * 4), nn.Conv2d(width * 4, 1, 3, 1, 1))

    def forward(self, src: torch.Tensor, cand: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([src, cand, _planes(src, onehot)], 1))


def generator_and_discriminator(n_emotions: int, **options) -> tuple[UNetGenerator, PatchDiscriminator]:
    return UNetGenerator(n_emotions, **options), PatchDiscriminator(n_emotions, **options)
