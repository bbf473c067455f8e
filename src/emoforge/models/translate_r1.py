"""R1's translation networks as its code (utils.py) builds them.

The generator reads one emotion's 128 x 128 spectrogram image and writes all 8 emotions'
images of the same actor and sentence as 8 channels; it takes no emotion input. The
discriminator is pix2pix's PatchGAN on the input beside the 8 outputs (9 channels)."""
from __future__ import annotations

import torch
from torch import nn


class ConvBlock(nn.Sequential):
    """Two 7x7 convolutions, each followed by BatchNorm and ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(nn.Conv2d(c_in, c_out, 7, padding=3), nn.BatchNorm2d(c_out), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, 7, padding=3), nn.BatchNorm2d(c_out), nn.ReLU())


class R1UNet(nn.Module):
    """Five levels of 32-64-128-256-512 channels, max-pool down, 3x3 transposed convolution
    up, skips concatenated, a 1x1 convolution to one channel per emotion; no output activation."""

    def __init__(self, n_emotions: int = 8, widths: tuple[int, ...] = (32, 64, 128, 256, 512)):
        super().__init__()
        self.pool = nn.MaxPool2d(2, 2)
        self.down = nn.ModuleList(ConvBlock(c_in, c_out) for c_in, c_out in zip((1, *widths), widths))
        deeper, shallower = widths[:0:-1], widths[-2::-1]
        self.up = nn.ModuleList(nn.ConvTranspose2d(a, b, 3, stride=2, padding=1, output_padding=1)
                                for a, b in zip(deeper, shallower))
        self.merge = nn.ModuleList(ConvBlock(2 * b, b) for b in shallower)
        self.out = nn.Conv2d(widths[0], n_emotions, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        skips = []
        h = image
        for level, block in enumerate(self.down):
            h = block(self.pool(h) if level else h)
            skips.append(h)
        skips.pop()
        for up, merge in zip(self.up, self.merge):
            h = merge(torch.cat([skips.pop(), up(h)], 1))
        return self.out(h)


class R1PatchDiscriminator(nn.Sequential):
    """pix2pix's n-layer PatchGAN (3 strided layers, 64 filters), then R1's 6x6 average pool:
    a 128 x 128 input gets a 2 x 2 map of logits."""

    def __init__(self, in_channels: int = 9, width: int = 64, n_layers: int = 3):
        layers = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            previous, mult = mult, 2 ** n
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(width * previous, width * mult, 4, stride, 1),
                       nn.BatchNorm2d(width * mult), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(width * mult, 1, 4, 1, 1), nn.AvgPool2d(6)]
        super().__init__(*layers)


def r1_generator_and_discriminator(n_emotions: int = 8) -> tuple[R1UNet, R1PatchDiscriminator]:
    return R1UNet(n_emotions), R1PatchDiscriminator(1 + n_emotions)
