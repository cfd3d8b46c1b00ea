"""Multi-layer perceptron of the XOR and MNIST-1D tasks (thesis §5.2.3, §5.2.4).

XOR uses one hidden layer of 8 units, MNIST-1D one of 256 (as in Greydanus & Kobak, 2020);
both use Softplus. Weights keep PyTorch's default ``nn.Linear`` initialisation (the thesis does
not name another).
"""

from collections.abc import Sequence

from torch import nn

from models.activations import make_activation


class MLP(nn.Sequential):
    """``in_features → hidden_sizes… → out_features`` with ``activation`` between linear layers."""

    def __init__(self, in_features: int, out_features: int, hidden_sizes: Sequence[int] = (256,),
                 activation: str = "softplus"):
        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), make_activation(activation)]
            width = hidden
        layers.append(nn.Linear(width, out_features))
        super().__init__(*layers)
