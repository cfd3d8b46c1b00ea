"""Multi-layer perceptron of the XOR and MNIST-1D tasks (thesis §5.2.3, §5.2.4) and of the physics-informed tasks.

XOR uses one hidden layer of 8 units, MNIST-1D one of 256 (as in Greydanus & Kobak, 2020);
both use Softplus. Weights keep PyTorch's default ``nn.Linear`` initialisation (the thesis does
not name another). The physics-informed tasks (tasks/pinn.py) ask for ``init="xavier_normal"``:
Glorot-normal weights and zero biases, the initialisation of Rathore et al. (ICML 2024), whose
problems they reproduce.
"""

from collections.abc import Sequence

from torch import nn

from models.activations import make_activation

INITS = ("pytorch", "xavier_normal")


class MLP(nn.Sequential):
    """``in_features → hidden_sizes… → out_features`` with ``activation`` between linear layers, and dropout of
    probability ``dropout`` after each activation (0: none, the thesis's; a model that draws random numbers in its
    forward pass, for the cost of KryBall's ``same_randomness``: docs/performance.md)."""

    def __init__(self, in_features: int, out_features: int, hidden_sizes: Sequence[int] = (256,),
                 activation: str = "softplus", init: str = "pytorch", dropout: float = 0.0):
        if init not in INITS:
            raise ValueError(f"model.init must be one of {list(INITS)}, got {init!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {dropout!r}")
        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, out_features))
        super().__init__(*layers)
        if init == "xavier_normal":
            for layer in self:
                if isinstance(layer, nn.Linear):
                    nn.init.xavier_normal_(layer.weight)
                    nn.init.zeros_(layer.bias)
