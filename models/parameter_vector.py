"""A point in ℝⁿ as a "model" (thesis §5.1.2, Algorithm 5).

Function tasks (Rosenbrock, the saddles) optimise coordinates directly: the model holds one
parameter vector, starting at ``start``, and ``model()`` returns it, so any PyTorch optimiser can
minimise a function through the same training loop as a network.
"""

from collections.abc import Sequence

import torch
from torch import nn


class ParameterVector(nn.Module):
    def __init__(self, start: Sequence[float]):
        super().__init__()
        self.point = nn.Parameter(torch.tensor([float(v) for v in start]))

    def forward(self) -> torch.Tensor:
        return self.point
