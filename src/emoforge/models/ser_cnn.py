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


class SimAM(nn.Module):
    """SimAM (Yang et al. 2021): parameter-free attention. Each activation is weighted by a
    sigmoid of its energy, how far it stands out from its channel's mean."""

    def __init__(self, lam: float = 1e-4):
        super().__init__()
        self.lam = lam

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[2] * x.shape[3] - 1
        deviation = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
        energy = deviation / (4 * (deviation.sum(dim=(2, 3), keepdim=True) / n + self.lam)) + 0.5
        return x * torch.sigmoid(energy)


class R4CNN(nn.Module):
    """R4's network: a 7x7 convolution of 32 (max-pool 4, stride 2), a 5x5 convolution of 64
    (max-pool 3, stride 2), SimAM, then dropout 0.8 around a 2048-unit dense layer, and one
    linear head per task. Its auxiliary losses are weighted by learned parameters w (through a
    softmax): L_emotion + sum exp(-s_i) L_i + s_i, s = softmax(w). Input: (B, 128, 128) images
    of the whole clip's log-mel spectrogram (`resize: 128` in its recipe)."""

    def __init__(self, n_classes: int, n_mels: int = 128, dropout: float = 0.8,
                 aux: dict[str, int] | None = None):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 32, 7, padding=3), nn.ReLU(inplace=True), nn.MaxPool2d(4, 2),
                                  nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                                  SimAM(),
                                  # the identity on R4's 128x128 images (31x31 maps here); other
                                  # inputs, such as log-mel crops, are brought to the same size
                                  nn.AdaptiveMaxPool2d(31), nn.Flatten())
        self.shared = nn.Sequential(nn.Dropout(dropout), nn.Linear(64 * 31 * 31, 2048), nn.ReLU(inplace=True),
                                    nn.Dropout(dropout))
        self.head = nn.Linear(2048, n_classes)
        self.aux = nn.ModuleDict({k: nn.Linear(2048, n) for k, n in (aux or {}).items()})
        self.task_weights = nn.Parameter(torch.zeros(max(1, len(self.aux))))

    def forward(self, x: torch.Tensor):
        h = self.shared(self.body(x.unsqueeze(1)))
        return {"emotion": self.head(h), **{k: head(h) for k, head in self.aux.items()}}

    def weigh(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """The auxiliary losses, weighted as R4's code weighs them."""
        s = torch.softmax(self.task_weights, 0)
        return sum(torch.exp(-s[i]) * losses[k] + s[i] for i, k in enumerate(self.aux) if k in losses)


def _within(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, frames) True where a frame is inside its clip."""
    return torch.arange(frames, device=lengths.device)[None] < lengths[:, None]


class StatsPoolCNN(nn.Module):
    """(B, T, mels) -> (B, classes). Four blocks of two 3x3 convolutions (BN, ReLU) and a 2x2
    max-pool, then attentive statistics pooling over time (Okabe et al. 2018): an attention-
    weighted mean and standard deviation of each frame's (channel x band) vector.

    A batch may hold whole clips of any length, zero-padded at the end: a clip ends at its last
    frame that is not all zero, and every convolution's input past that end is set to zero, as
    its own padding would be. So a clip scores the same alone or in a padded batch."""

    def __init__(self, n_classes: int, n_mels: int = 64, width: int = 16, dropout: float = 0.3):
        super().__init__()
        chans = [1, width, width * 2, width * 4, width * 8]
        self.blocks = nn.ModuleList(nn.ModuleList([_block(a, b, pool=False), _block(b, b, pool=False)])
                                    for a, b in zip(chans, chans[1:]))
        self.stride = 2 ** len(self.blocks)
        frame_dim = chans[-1] * (n_mels // self.stride)
        self.attn = nn.Sequential(nn.Linear(frame_dim, 128), nn.Tanh(), nn.Linear(128, 1))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * frame_dim, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        voiced = (x != 0).any(dim=2)
        lengths = torch.where(voiced.any(1), x.shape[1] - voiced.flip(1).int().argmax(1), 0)
        if x.shape[1] < self.stride:  # too short to survive the pools: pad to one pooled frame
            x = nn.functional.pad(x, (0, 0, 0, self.stride - x.shape[1]))
        h = x.unsqueeze(1)  # (B, 1, T, mels)
        for convs in self.blocks:
            for conv in convs:
                h = conv(h * _within(lengths, h.shape[2])[:, None, :, None])
            h, lengths = nn.functional.max_pool2d(h, 2), lengths // 2
        h = h.permute(0, 2, 1, 3).flatten(2)  # (B, T', C * F')
        inside = _within(lengths.clamp(min=1), h.shape[1])
        w = torch.softmax(self.attn(h).squeeze(2).masked_fill(~inside, float("-inf")), dim=1).unsqueeze(2)
        mean = (w * h).sum(1)
        std = ((w * (h - mean.unsqueeze(1)).pow(2)).sum(1) + 1e-5).sqrt()
        return self.head(torch.cat([mean, std], dim=1))
