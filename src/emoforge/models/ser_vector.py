"""SER on fixed-length feature vectors, read as 1D signals."""
from __future__ import annotations

import torch
from torch import nn


class R3Conv1D(nn.Module):
    """R3's 1D CNN as its notebook builds it: convolutions of 256 and 128 (kernel 5, "same"),
    dropout 0.5, a max-pool of 5, four more convolutions of 128, a linear softmax head
    (545,928 parameters for 259 values and 8 classes)."""

    def __init__(self, n_classes: int, n_features: int = 259, dropout: float = 0.5):
        super().__init__()
        conv = lambda a, b: [nn.Conv1d(a, b, 5, padding=2), nn.ReLU(inplace=True)]  # noqa: E731
        self.net = nn.Sequential(*conv(1, 256), *conv(256, 128), nn.Dropout(dropout), nn.MaxPool1d(5),
                                 *conv(128, 128), *conv(128, 128), *conv(128, 128), *conv(128, 128),
                                 nn.Flatten())
        self.head = nn.Linear(128 * (n_features // 5), n_classes)

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


def _conv_relu(a: int, b: int) -> list[nn.Module]:
    return [nn.Conv1d(a, b, 3, padding=1), nn.ReLU(inplace=True)]


class R2AlexNet1D(nn.Module):
    """R2's "AlexNet" 1D CNN as its notebook builds it, over the raw 848 values: eight 3-wide
    convolutions (64, 64, 128, 128, 256, 256, 512, 512, 512 channels after the first pools),
    no batch norm, six max-pools (the first of stride 3), then 4096 -> 1024 -> classes."""

    def __init__(self, n_classes: int, n_features: int = 848, dropout: float = 0.5):
        super().__init__()
        pool = lambda: nn.MaxPool1d(2, 2)  # noqa: E731
        self.net = nn.Sequential(
            *_conv_relu(1, 64), nn.MaxPool1d(2, 3), *_conv_relu(64, 64), pool(),
            *_conv_relu(64, 128), *_conv_relu(128, 128), pool(),
            *_conv_relu(128, 256), *_conv_relu(256, 256), pool(),
            *_conv_relu(256, 512), *_conv_relu(512, 512), pool(),
            *_conv_relu(512, 512), pool(), nn.Flatten())
        length = (n_features - 2) // 3 + 1
        for _ in range(5):
            length //= 2
        self.head = nn.Sequential(nn.Linear(512 * length, 1024), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(1024, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x.unsqueeze(1)))


class _R2Block(nn.Module):
    """R2's residual block: two 3-wide convolutions with batch norm; a 1x1 convolution (no batch
    norm) on the shortcut where the block strides or widens."""

    def __init__(self, a: int, b: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(nn.Conv1d(a, b, 3, stride, 1), nn.BatchNorm1d(b), nn.ReLU(inplace=True),
                                  nn.Conv1d(b, b, 3, 1, 1), nn.BatchNorm1d(b))
        self.skip = nn.Conv1d(a, b, 1, stride) if stride != 1 or a != b else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class R2ResNet1D(nn.Module):
    """R2's ResNet-1D as its notebook builds it: a stride-3 7-wide stem with batch norm and a
    max-pool, five stages of two blocks (64, 128, 256, 256, 512; all but the first halve the
    length), then flattened (no global pooling) into 512 -> classes."""

    def __init__(self, n_classes: int, n_features: int = 848, dropout: float = 0.5):
        super().__init__()
        widths = [64, 64, 128, 256, 256, 512]
        layers: list[nn.Module] = [nn.Conv1d(1, 64, 7, 3, 3), nn.BatchNorm1d(64), nn.MaxPool1d(3, 2, 1)]
        for stage, (a, b) in enumerate(zip(widths, widths[1:])):
            layers += [_R2Block(a, b, 1 if stage == 0 else 2), _R2Block(b, b)]
        self.net = nn.Sequential(*layers, nn.Flatten())
        length = (n_features - 1) // 3 + 1
        length = (length - 1) // 2 + 1
        for _ in range(4):
            length = (length - 1) // 2 + 1
        self.head = nn.Sequential(nn.Linear(512 * length, 512), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(512, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x.unsqueeze(1)))


class R2AcrossBatch(nn.Module):
    """R2's BiGRU, BiLSTM and attention models as its code ran them. The (B, 848) batch goes
    in as (B, 848, 1) to modules that read (sequence, batch, features): so the recurrence (or
    attention) runs across the clips of a batch, for each of the 848 positions, and a clip's
    score depends on the batch it is in. The GRU/LSTM head reads the last position's states."""

    def __init__(self, n_classes: int, n_features: int = 848, cell: str = "gru"):
        super().__init__()
        self.cell = cell
        if cell == "attention":
            self.mix = nn.MultiheadAttention(1, 1)
            self.head = nn.Sequential(nn.Linear(n_features, 256), nn.LeakyReLU(), nn.Linear(256, n_classes))
        else:
            rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
            self.mix = rnn(1, 50, num_layers=2, bidirectional=True)
            self.head = nn.Sequential(nn.Linear(100, 128), nn.LeakyReLU(), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.unsqueeze(2)
        if self.cell == "attention":
            return self.head(self.mix(steps, steps, steps)[0].squeeze(2))
        return self.head(self.mix(steps)[0][:, -1, :])
