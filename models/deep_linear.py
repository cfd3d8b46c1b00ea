"""Deep linear network ``x ↦ W_L ⋯ W_1 x`` of the Rahimi–Recht task (thesis Eq. 5.2).

No biases and no activations: the product of the weight matrices is the model. The thesis uses
two layers. Weights keep PyTorch's default ``nn.Linear`` initialisation (Kaiming-uniform), the
thesis naming no other.
"""

from collections.abc import Sequence

from torch import nn


class DeepLinear(nn.Sequential):
    def __init__(self, in_features: int, out_features: int, hidden_sizes: Sequence[int] = (10,)):
        widths = [in_features, *hidden_sizes, out_features]
        super().__init__(*(nn.Linear(a, b, bias=False) for a, b in zip(widths[:-1], widths[1:], strict=True)))
