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


def _conv_bn(a: int, b: int, k: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv1d(a, b, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm1d(b), nn.ReLU(inplace=True)]


class AlexNet1D(nn.Module):
    """R2's AlexNet-shaped 1D CNN: five convolutions (wide kernel first, pooling after the
    1st, 2nd and 5th), then two dropout-regularised fully connected layers."""

    def __init__(self, n_classes: int, n_features: int = 162, width: int = 64, dropout: float = 0.5):
        super().__init__()
        w = width
        self.net = nn.Sequential(*_conv_bn(1, w, 11), nn.MaxPool1d(2), *_conv_bn(w, 3 * w, 5), nn.MaxPool1d(2),
                                 *_conv_bn(3 * w, 6 * w, 3), *_conv_bn(6 * w, 4 * w, 3), *_conv_bn(4 * w, 4 * w, 3),
                                 nn.MaxPool1d(2), nn.AdaptiveAvgPool1d(6), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w * 6, 512), nn.ReLU(inplace=True),
                                  nn.Dropout(dropout), nn.Linear(512, 512), nn.ReLU(inplace=True),
                                  nn.Linear(512, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x.unsqueeze(1)))


class _Block1D(nn.Module):
    def __init__(self, a: int, b: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(*_conv_bn(a, b, 3, stride), nn.Conv1d(b, b, 3, padding=1, bias=False),
                                  nn.BatchNorm1d(b))
        self.skip = (nn.Identity() if stride == 1 and a == b else
                     nn.Sequential(nn.Conv1d(a, b, 1, stride=stride, bias=False), nn.BatchNorm1d(b)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class ResNet1D(nn.Module):
    """R2's ResNet-shaped 1D CNN: a stem, four stages of two residual blocks (ResNet-18's
    layout, widths doubling as the length halves), global average pooling, a linear head."""

    def __init__(self, n_classes: int, n_features: int = 162, width: int = 32, dropout: float = 0.3):
        super().__init__()
        widths = [width * 2 ** i for i in range(4)]
        layers: list[nn.Module] = [*_conv_bn(1, width, 7)]
        for i, w in enumerate(widths):
            a = widths[i - 1] if i else width
            layers += [_Block1D(a, w, 1 if i == 0 else 2), _Block1D(w, w, 1)]
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Dropout(dropout))
        self.head = nn.Linear(widths[-1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x.unsqueeze(1)))
