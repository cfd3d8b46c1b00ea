"""The saddle-free Newton direction inside a Krylov subspace (thesis §4.1–4.2.1).

Dauphin et al. (2014) replace the Hessian's eigenvalues by their absolute values
(thesis eqs 4.1–4.3), so that negative curvature repels instead of attracting. In
the Krylov subspace this is a small m×m problem on the projected Hessian T
(eqs 4.7–4.10), with small eigenvalues clipped from below (eqs 4.11–4.12).
"""

import torch


def sfn_direction(T: torch.Tensor, gradient_coordinates: torch.Tensor, eig_clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Saddle-free Newton direction in subspace coordinates.

    Computes ``y = −V clip(|Λ|, ε)⁻¹ Vᵀ c`` for ``T = VΛVᵀ`` (thesis eqs 4.7, 4.11,
    4.12), where ``c = Qᵀg`` are the gradient's coordinates in the Krylov basis
    (``‖g‖e₁`` for a basis started from g, as eq. 4.9 notes). The full-space
    direction is ``Q y`` (eq. 4.10).

    Args:
        T: the symmetric projected Hessian (m×m).
        gradient_coordinates: ``c`` (m,).
        eig_clip: ε ≥ 0; eigenvalue magnitudes below it are raised to it. With
            ε = 0 an exactly zero eigenvalue is raised to the smallest positive
            float instead, so the direction is finite (and dominated by that
            flat direction, the ε → 0 limit).

    Returns:
        ``(y, ritz_values)``: y in float64 and the eigenvalues Λ of T (ascending),
        which approximate the Hessian's extreme eigenvalues.
    """
    T64 = T.detach().to(torch.float64)
    T64 = (T64 + T64.T) / 2
    ritz_values, V = torch.linalg.eigh(T64)
    floor = max(eig_clip, torch.finfo(torch.float64).tiny)
    magnitudes = ritz_values.abs().clamp_min(floor)
    y = -V @ ((V.T @ gradient_coordinates.to(torch.float64)) / magnitudes)
    return y, ritz_values


def exact_sfn_direction(H: torch.Tensor, g: torch.Tensor, eig_clip: float) -> torch.Tensor:
    """The full saddle-free Newton step ``−V clip(|Λ|, ε)⁻¹ Vᵀ g`` for a dense H (eqs 4.1–4.3).

    Only for small problems: it needs the whole Hessian. The reference
    implementation and the reconstruction-error analysis compare against it.
    """
    direction, _ = sfn_direction(H, g, eig_clip)
    return direction
