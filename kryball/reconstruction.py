"""How well a Krylov subspace carries the saddle-free Newton direction (thesis §5.4, eqs 5.5–5.12).

The thesis measures ‖r‖ = ‖z* − ẑ‖ between the exact saddle-free direction
z* = −V|Λ|⁻¹Vᵀĝ and a vector ẑ = Σₖ αₖ Hᵏ ĝ of the Krylov space 𝒦_m(H, ĝ)
(eqs 5.5–5.6), with α chosen to make r small (eqs 5.9–5.12). The α that makes ‖r‖
smallest gives the orthogonal projection of z* onto 𝒦_m, so the best achievable
error is ‖(I − QQᵀ)z*‖ for an orthonormal Krylov basis Q — computed that way here,
which is stable where the monomial system of eq. 5.12 is not. Beside it stands the
error of the direction KryBall actually takes, the saddle-free direction of the
projected Hessian (eqs 4.7–4.12). Both are relative to ‖z*‖. For small models only:
the exact direction needs the whole Hessian.
"""

import torch

from .closure import loss_with_graph
from .hvp import HessianVectorProducts
from .krylov import lanczos
from .saddle_free import exact_sfn_direction, sfn_direction


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
