"""SER over frame sequences (R2's recurrent and attention models), on log-mel frames."""
from __future__ import annotations

import math

import torch
from torch import nn


def _pool(h: torch.Tensor) -> torch.Tensor:
    return torch.cat([h.mean(1), h.amax(1)], dim=1)


class RecurrentClassifier(nn.Module):
    """Bidirectional GRU or LSTM over (B, T, mels), mean+max pooled over time."""

    def __init__(self, n_classes: int, n_mels: int = 64, cell: str = "gru", hidden: int = 96, layers: int = 2,
                 dropout: float = 0.3, stride: int = 2):
        super().__init__()
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.stride = stride  # halving the frame rate halves the recurrent steps, at 20 ms a step
        self.rnn = rnn(n_mels * stride, hidden, layers, batch_first=True, bidirectional=True, dropout=dropout)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, m = x.shape
        x = x[:, : t - t % self.stride].reshape(b, t // self.stride, m * self.stride)
        return self.head(_pool(self.rnn(x)[0]))


class AttentionClassifier(nn.Module):
    """A small Transformer encoder over strided frames, attention-pooled."""

    def __init__(self, n_classes: int, n_mels: int = 64, dim: int = 96, heads: int = 4, layers: int = 2,
                 dropout: float = 0.2, stride: int = 4):
        super().__init__()
        self.proj = nn.Conv1d(n_mels, dim, kernel_size=stride, stride=stride)
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.score = nn.Linear(dim, 1)
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Dropout(dropout), nn.Linear(dim, n_classes))
        self.dim = dim

    def positions(self, t: int, device) -> torch.Tensor:
        pos = torch.arange(t, device=device)[:, None]
        freq = torch.exp(torch.arange(0, self.dim, 2, device=device) * (-math.log(10000.0) / self.dim))
        pe = torch.zeros(t, self.dim, device=device)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
        return pe

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.proj(x.transpose(1, 2)).transpose(1, 2)
        h = self.encoder(h + self.positions(h.shape[1], h.device))
        w = torch.softmax(self.score(h), dim=1)
        return self.head((w * h).sum(1))
