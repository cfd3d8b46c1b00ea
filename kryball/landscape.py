"""Loss-landscape line samples along a direction (thesis §5.1.4, figure 5.6).

The thesis inspects the local geometry met by an optimiser by evaluating the loss
at θ + λd for λ on a grid — an exhaustive line search along the step direction d.
"""

import torch

from .closure import Closure
from .flat import assign, flatten


def sample_line(closure, params, direction: torch.Tensor, lambdas: torch.Tensor | None = None) -> torch.Tensor:
    """Losses ``L(θ + λ·direction)`` for each λ, with θ restored exactly afterwards.

    Args:
        closure: returns the loss at the current parameters (as for ``KryBall.step``);
            evaluated without gradient tracking where it allows (:mod:`kryball.closure`), a ``backward()``
            inside is skipped.
        params: the parameters θ (tensors of one dtype and device; frozen ones excluded
            by the caller, as ``direction`` must match the trainable ones).
        direction: a flat vector with one entry per element of ``params``, e.g.
            ``opt.vectors["step"]`` or a negative gradient.
        lambdas: the grid; by default 41 points on [−2, 2] as in thesis fig. 5.6.

    Returns:
        A float64 tensor of losses, one per λ (NaN/inf kept as evaluated).
    """
    params = list(params)
    theta = flatten(params).detach()
    if direction.shape != theta.shape:
        raise ValueError(f"direction has {direction.numel()} entries, the parameters {theta.numel()}")
    if lambdas is None:
        lambdas = torch.linspace(-2.0, 2.0, 41, dtype=torch.float64)
    closure, losses = Closure(closure), []
    try:
        for lam in lambdas.tolist():
            assign(params, theta + lam * direction.to(theta))
            losses.append(closure.without_graph().item())
    finally:
        assign(params, theta)
    return torch.tensor(losses, dtype=torch.float64)

