"""SER on fixed-length feature vectors, read as 1D signals."""
from __future__ import annotations

import torch
from torch import nn


class R3Conv1D(nn.Module):
    """R3's 1D CNN: six convolutions (256, 128, then four of 128, kernel 5), one max-pool of 8,
    dropout, a linear softmax head."""

    def __init__(self, n_classes: int, n_features: int = 259, dropout: float = 0.1):
        super().__init__()
        conv = lambda a, b: [nn.Conv1d(a, b, 5, padding=2), nn.ReLU(inplace=True)]  # noqa: E731
        self.net = nn.Sequential(*conv(1, 256), *conv(256, 128), nn.Dropout(dropout), nn.MaxPool1d(8),
                                 *conv(128, 128), *conv(128, 128), *conv(128, 128), *conv(128, 128),
                                 nn.Flatten(), nn.Dropout(2 * dropout))
        self.head = nn.Linear(128 * (n_features // 8), n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x.unsqueeze(1)))


class VectorMLP(nn.Module):
    """A small head over a fixed vector (e.g. frozen self-supervised embeddings)."""

    def __init__(self, n_classes: int, n_features: int, hidden: int = 256, dropout: float = 0.3):
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(0.1), nn.Linear(n_features, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
