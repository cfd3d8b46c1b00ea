"""Analyses of the loss surface KryBall meets and of its Krylov approximation (thesis §5.1.4, §5.4): small models.

**Loss-landscape line samples** (thesis §5.1.4, figure 5.6). The thesis inspects the local
geometry met by an optimiser by evaluating the loss at θ + λd for λ on a grid — an
exhaustive line search along the step direction d (:func:`sample_line`).

**Reconstruction error** (thesis §5.4, eqs 5.5–5.12): how well a Krylov subspace carries
the saddle-free Newton direction. The thesis measures ‖r‖ = ‖z* − ẑ‖ between the exact
saddle-free direction z* = −V|Λ|⁻¹Vᵀĝ and a vector ẑ = Σₖ αₖ Hᵏ ĝ of the Krylov space
𝒦_m(H, ĝ) (eqs 5.5–5.6), with α chosen to make r small (eqs 5.9–5.12). The α that makes ‖r‖
smallest gives the orthogonal projection of z* onto 𝒦_m, so the best achievable
error is ‖(I − QQᵀ)z*‖ for an orthonormal Krylov basis Q — computed that way here,
which is stable where the monomial system of eq. 5.12 is not. Beside it stands the
error of the direction KryBall actually takes, the saddle-free direction of the
projected Hessian (eqs 4.7–4.12). Both are relative to ‖z*‖. For small models only:
the exact direction needs the whole Hessian.
"""

import torch

from .closure import Closure, loss_with_graph
from .curvature import HessianVectorProducts
from .krylov import lanczos
from .parameters import assign, flatten
from .saddle_free import exact_sfn_direction, sfn_direction


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


def reconstruction_errors(H: torch.Tensor, g: torch.Tensor, dims, eig_clip: float = 1e-4) -> list[dict]:
    """For each Krylov dimension m in ``dims``: the best and KryBall's relative error.

    Returns one dict per m with ``krylov_dim``, ``basis_size`` (smaller than m after a
    breakdown), ``best_error`` = ‖(I − QQᵀ)z*‖/‖z*‖ and ``kryball_error`` =
    ‖z* − Q·sfn(T)‖/‖z*‖, all in float64.
    """
    H, g = H.to(torch.float64), g.to(torch.float64)
    H = (H + H.T) / 2
    g_hat = g / g.norm()
    target = exact_sfn_direction(H, g_hat, eig_clip)
    scale = target.norm()
    # Lanczos bases are nested: one run to the largest m gives every smaller one as a prefix.
    Q_all, T_all = lanczos(lambda v: H @ v, g_hat, max(dims))
    rows = []
    for m in dims:
        Q, T = Q_all[:, :m], T_all[:m, :m]
        y, _ = sfn_direction(T, Q.T @ g_hat, eig_clip)
        rows.append(dict(
            krylov_dim=m,
            basis_size=Q.shape[1],
            best_error=((target - Q @ (Q.T @ target)).norm() / scale).item(),
            kryball_error=((target - Q @ y).norm() / scale).item(),
        ))
    return rows


def dense_hessian(closure, params) -> tuple[torch.Tensor, torch.Tensor]:
    """The full Hessian and gradient of ``closure()`` at ``params``, one HVP per column (small models)."""
    params = [p for p in params if p.requires_grad]
    hvp = HessianVectorProducts(loss_with_graph(closure), params)
    n = hvp.gradient.numel()
    identity = torch.eye(n, dtype=hvp.gradient.dtype, device=hvp.gradient.device)
    return hvp.matmat(identity), hvp.gradient
