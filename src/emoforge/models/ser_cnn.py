"""SER on log-mel: a 2D CNN with attention pooling over time."""
from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int, kernel: int = 3, stride: int = 1, pool: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(2)) if pool else nn.Sequential(*layers)


class LogMelCNN(nn.Module):
    """(B, T, mels) -> (B, classes). Conv blocks, mean over frequency, attention over time."""

    def __init__(self, n_classes: int, n_mels: int = 64, width: int = 16, dropout: float = 0.3):
        super().__init__()
        chans = [width, width * 2, width * 4, width * 8]
        # a strided 5x5 stem halves time and frequency before the costly layers
        self.body = nn.Sequential(_block(1, width, 5, 2, pool=False),
                                  *[_block(a, b) for a, b in zip(chans, chans[1:])])
        self.attn = nn.Linear(chans[-1], 1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * chans[-1], n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x.unsqueeze(1)).mean(dim=3).transpose(1, 2)  # (B, T', C)
        w = torch.softmax(self.attn(h), dim=1)
        pooled = torch.cat([(w * h).sum(1), h.amax(1)], dim=1)
        return self.head(pooled)


class FeatureMapAttention(nn.Module):
    """Channel (squeeze-excitation) then spatial attention over CNN feature maps (CBAM-style)."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        self.channel = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels // reduction, 1),
                                     nn.ReLU(inplace=True), nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid())
        self.spatial = nn.Sequential(nn.Conv2d(2, 1, 7, padding=3), nn.Sigmoid())

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h * self.channel(h)
        return h * self.spatial(torch.cat([h.mean(1, keepdim=True), h.amax(1, keepdim=True)], 1))


class MultitaskCNN(LogMelCNN):
    """R4: the log-mel CNN with attention over its feature maps and auxiliary heads.
    `aux` maps a task to its output size (classes, or 3 for valence/arousal/dominance)."""

    def __init__(self, n_classes: int, n_mels: int = 64, width: int = 16, dropout: float = 0.3,
                 aux: dict[str, int] | None = None):
        super().__init__(n_classes, n_mels, width, dropout)
        chans = width * 8
        self.body = nn.Sequential(*[m for block in self.body for m in (block, FeatureMapAttention(block[0].out_channels))])
        self.aux = nn.ModuleDict({k: nn.Linear(2 * chans, n) for k, n in (aux or {}).items()})

    def forward(self, x: torch.Tensor):
        h = self.body(x.unsqueeze(1)).mean(dim=3).transpose(1, 2)
        w = torch.softmax(self.attn(h), dim=1)
        pooled = torch.cat([(w * h).sum(1), h.amax(1)], dim=1)
        return {"emotion": self.head(pooled), **{k: head(pooled) for k, head in self.aux.items()}}
