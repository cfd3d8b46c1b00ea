"""A coordinate network with random Fourier features (Tancik et al., "Fourier Features Let Networks Learn
High Frequency Functions in Low Dimensional Domains", NeurIPS 2020, §5 and eq. 4):

    γ(v) = [cos 2πBv, sin 2πBv],   B ∈ ℝ^{m×d} with entries drawn from N(0, σ²),

followed by an MLP (``models/mlp.py``). B is fixed — a buffer, never trained — and drawn from its own
generator seeded by ``feature_seed``, not from the run seed: every run seed fits the same function
class and only the MLP's initialisation changes (the image-fitting task sets it to its ``data_seed``).

The activation is smooth (Softplus by default, the thesis's, §5.2.3), not Tancik et al.'s ReLU: a ReLU
network is piecewise multilinear in its weights, so its Hessian is piecewise constant and jumps wherever
a unit switches on or off; a Krylov model of that curvature (KryBall's, thesis ch. 4) describes a step
only as long as it crosses no switch. With Softplus or Tanh the curvature changes smoothly.
"""

from collections.abc import Sequence

import torch
from torch import nn

from models.mlp import MLP


class FourierFeatures(nn.Module):
    """``v ↦ [cos 2πBv, sin 2πBv]`` with a fixed Gaussian B of ``features`` rows (Tancik et al., eq. 4)."""

    def __init__(self, in_features: int, features: int, scale: float, feature_seed: int):
        super().__init__()
        if features < 1 or not scale > 0:
            raise ValueError(f"model.features must be ≥ 1 and model.scale > 0, got {features!r} and {scale!r}")
        generator = torch.Generator().manual_seed(feature_seed)
        self.register_buffer("b", scale * torch.randn(features, in_features, generator=generator, dtype=torch.float64))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        angles = 2 * torch.pi * v @ self.b.T
        return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class FourierMLP(nn.Sequential):
    """``in_features`` coordinates → γ (2 × ``features``) → ``hidden_sizes…`` → ``out_features``."""

    def __init__(self, in_features: int, out_features: int, features: int = 128, scale: float = 10.0,
                 feature_seed: int = 0, hidden_sizes: Sequence[int] = (128, 128), activation: str = "softplus"):
        super().__init__(FourierFeatures(in_features, features, scale, feature_seed),
                         MLP(2 * features, out_features, hidden_sizes, activation))
