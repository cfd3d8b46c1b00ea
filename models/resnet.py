"""ResNet-18 for 32×32 images (He et al., 2016; thesis §5.2.4).

The CIFAR variant everyone benchmarks with: a 3×3 stride-1 stem without max-pooling, four stages
of two basic blocks (64, 128, 256, 512 channels; stride 2 from the second stage on), global
average pooling and one linear layer. The activation is configurable (the thesis uses Softplus,
§5.2.4); ``width`` scales every stage so tests can run a tiny network through the same code.
"""

import torch
from torch import nn

from models.activations import make_activation


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, activation: str):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act1 = make_activation(activation)
        self.act2 = make_activation(activation)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(out + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 64,
                 activation: str = "softplus"):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False),
                                  nn.BatchNorm2d(width), make_activation(activation))
        blocks, in_planes = [], width
        for stage, stride in enumerate((1, 2, 2, 2)):
            planes = width * 2 ** stage
            for block_stride in (stride, 1):
                blocks.append(BasicBlock(in_planes, planes, block_stride, activation))
                in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_planes, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))
