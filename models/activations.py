"""The activation functions the suite can swap in (thesis §5.4, Fig. 5.7: ReLU, Softplus, Tanh, GELU)."""

from torch import nn

ACTIVATIONS = {"softplus": nn.Softplus, "relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name; the thesis default is Softplus (smooth, §5.2.3)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"model.activation must be one of {sorted(ACTIVATIONS)}, got {name!r}") from None
