"""The Krylov space and its saddle-free direction, diagonally preconditioned or not (thesis §4.2.1, §3.2.2).

Without a preconditioner this is the thesis's 𝒦_M(H, g) and its saddle-free direction
(eqs 4.5–4.12). The ``preconditioner`` option (beyond the thesis) takes a positive
diagonal ``D`` (Adam's ``√v̂ + ε``, :mod:`kryball.first_order`) and, as thesis §3.2.2
suggests, the Krylov space 𝒦(D⁻¹H, D⁻¹g) in place of 𝒦(H, g). It is built
symmetrically: with ``S = D^{-1/2}``, Lanczos on ``SHS`` from ``Sg`` gives Q̃ and
T̃ = Q̃ᵀSHSQ̃, and ``S(SHS)ᵏSg = (D⁻¹H)ᵏD⁻¹g``, so span(SQ̃) is the wanted space. The
saddle-free direction is taken in the preconditioned coordinates, ``ỹ = sfn(T̃)``,
and mapped back, ``d = SQ̃ỹ`` (Newton's step in the metric D). For the trust region
the space gets an orthonormal basis in θ: ``SQ̃ = QR``, whose curvature follows
without more Hessian-vector products, ``QᵀHQ = R⁻ᵀT̃R⁻¹``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple

import torch

from . import first_order
from .krylov import lanczos
from .saddle_free import sfn_direction

if TYPE_CHECKING:
    from .options import Options

# The ``preconditioner`` option's diagonals, by name, each as S = D^{-1/2} from the optimiser's state and options.
PRECONDITIONERS = {
    "adam": lambda state, options: first_order.denominator(state, options.adam_betas, options.adam_eps).rsqrt_(),
}


def krylov_scale(state: dict, options: Options) -> torch.Tensor | None:
    """S = D^{-1/2} of the configured preconditioner, or ``None`` for the thesis's 𝒦(H, g)."""
    if options.preconditioner is None:
        return None
    return PRECONDITIONERS[options.preconditioner](state, options)


class KrylovDirection(NamedTuple):
    """An orthonormal Krylov basis Q, T = QᵀHQ (float64), the saddle-free direction's
    coordinates y in Q (d = Qy, float64) and the Ritz values the direction was built from."""

    basis: torch.Tensor
    curvature: torch.Tensor
    coordinates: torch.Tensor
    ritz_values: torch.Tensor


def krylov_direction(matvec: Callable[[torch.Tensor], torch.Tensor], g: torch.Tensor, dim: int, eig_clip: float,
                     scale: torch.Tensor | None = None) -> KrylovDirection:
    """𝒦_dim(H, g) and its saddle-free direction (eqs 4.7–4.12); with ``scale`` = S = D^{-1/2},
    𝒦_dim(D⁻¹H, D⁻¹g) and the direction in the metric D (Ritz values then those of SHS)."""
    if scale is None:
        Q, T = lanczos(matvec, g, dim)
        y, ritz_values = sfn_direction(T, (Q.T @ g).double(), eig_clip)
        return KrylovDirection(Q, T, y, ritz_values)
    Qs, Ts = lanczos(lambda v: scale * matvec(scale * v), scale * g, dim)
    ys, ritz_values = sfn_direction(Ts, (Qs.T @ (scale * g)).double(), eig_clip)
    Q, R = torch.linalg.qr(scale[:, None] * Qs)
    R = R.double()
    R_inv_T = torch.linalg.solve_triangular(R, torch.eye(R.shape[0], dtype=R.dtype, device=R.device), upper=True).T
    T = R_inv_T @ Ts.to(R.device) @ R_inv_T.T
    return KrylovDirection(Q, (T + T.T) / 2, R @ ys.to(R.device), ritz_values)
