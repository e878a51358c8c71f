"""A compact ResNet-style CNN for 8x8 single-channel images (scikit-learn's digits).

Stem conv, ``blocks`` residual basic blocks (the last one downsamples 8x8 -> 4x4 and doubles the width),
global average pooling and a linear classifier. Written with plain modules and ``+`` for the skip connection
so FX graph-mode post-training quantization can fuse conv+bn+relu and quantize the add.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class DigitsResNet(nn.Module):
    def __init__(self, width: int = 32, blocks: int = 2, classes: int = 10):
        super().__init__()
        if blocks < 1 or width < 1 or classes < 2:
            raise ValueError("digits-resnet needs width >= 1, blocks >= 1 and classes >= 2")
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        layers = []
        cin = width
        for i in range(blocks):
            last = i == blocks - 1
            cout = width * 2 if last else width
            layers.append(BasicBlock(cin, cout, stride=2 if last else 1))
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))
