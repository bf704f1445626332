"""The shipped specs' networks written by hand, as a reader of the seed notebook would write them.

The benchmark trains them in the notebook's style (torchvision dataset and DataLoader), and the tests
check that a spec-built model starts from exactly these weights under the same seed: same layers,
made in the same order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SimpleNN(nn.Module):
    """The seed notebook's first network (specs/fashion_mnist_simple.toml)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 28 * 28)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


class Residual16(nn.Module):
    """The block ``res16`` of specs/fashion_mnist_cnn.toml: x + bn(conv(relu(bn(conv(x)))))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))


class FashionCNN(nn.Module):
    """specs/fashion_mnist_cnn.toml by hand: a stem, the residual block twice, a wider stage, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        self.res1 = Residual16()
        self.res2 = Residual16()
        self.conv = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.conv_bn = nn.BatchNorm2d(32)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem_bn(self.stem(x)))
        x = F.max_pool2d(F.relu(self.res1(x)), 2)
        x = F.relu(self.res2(x))
        x = F.max_pool2d(F.relu(self.conv_bn(self.conv(x))), 2)
        return self.fc(self.dropout(x.flatten(1)))
