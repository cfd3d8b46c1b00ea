"""The thesis's CIFAR-10 CNN (§5.2.4): three 5×5 convolutions with 32, 32 and 64 channels,
each followed by batch normalisation, the activation and 2×2 average pooling, then two fully
connected layers.

Reading of the thesis: "with padding" is taken as size-preserving padding 2, and the width of the
first fully connected layer, which the thesis does not give, is 64 — the layout of the classic
Caffe ``cifar10_quick`` network that this description matches (32/32/64 5×5 convolutions, FC 64,
FC 10). A 32×32 input leaves 64 × 4 × 4 features after the three poolings.
"""

from torch import nn

from models.activations import make_activation


class CNN(nn.Sequential):
    def __init__(self, in_channels: int = 3, num_classes: int = 10, channels=(32, 32, 64),
                 hidden: int = 64, image_size: int = 32, activation: str = "softplus"):
        layers: list[nn.Module] = []
        width = in_channels
        for out in channels:
            layers += [nn.Conv2d(width, out, kernel_size=5, padding=2), nn.BatchNorm2d(out),
                       make_activation(activation), nn.AvgPool2d(2)]
            width = out
        side = image_size // 2 ** len(channels)
        layers += [nn.Flatten(), nn.Linear(width * side * side, hidden), make_activation(activation),
                   nn.Linear(hidden, num_classes)]
        super().__init__(*layers)
