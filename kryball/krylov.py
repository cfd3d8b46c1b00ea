"""Lanczos iteration: an orthonormal Krylov basis and the projected Hessian.

Thesis §2.4.2 (Algorithm 2) builds 𝒦_M(H, g) = span{g, Hg, …, H^{M−1}g} with the
Arnoldi iteration; for a symmetric H, Arnoldi's Hessenberg matrix is tridiagonal
and the iteration is Lanczos (thesis eq. 4.6: QᵀHQ = T). In floating point plain
Lanczos loses orthogonality, so every new vector is orthogonalised against the
whole basis, twice ("twice is enough", Parlett), and the coefficients are
accumulated in float64 (as PyHessian does).
"""

import math
from typing import Callable

import torch


def dependence_tolerance(dtype: torch.dtype) -> float:
    """Relative size below which a residual is round-off in ``dtype`` (√eps): Lanczos breakdown
    and the dropping of dependent search directions share it."""
    return torch.finfo(dtype).eps ** 0.5


def orthogonalise(rows: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``v`` minus its projection on the span of the orthonormal ``rows`` (k×n), by classical Gram–Schmidt applied
    twice: once loses orthogonality in floating point when v lies close to the span, twice is enough (Parlett,
    *The Symmetric Eigenvalue Problem*, §6-9). The Krylov basis and the search subspace both use it."""
    for _ in range(2):
        v = v - (rows @ v) @ rows
    return v


def lanczos(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    v0: torch.Tensor,
    dim: int,
    *,
    tol: float | None = None,
    keeps_growing: Callable[[torch.Tensor], bool] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run up to ``dim`` Lanczos steps of a symmetric operator from ``v0``.

    Args:
        matvec: ``v ↦ Hv`` for a symmetric H, on flat tensors like ``v0``.
        v0: the start vector (normalised here); KryBall passes the gradient.
        dim: the largest basis size M ≥ 1 wanted; one ``matvec`` per basis vector.
        tol: breakdown threshold relative to the largest coefficient seen; by default
            √eps of ``v0``'s dtype, the level at which a residual is round-off.
        keeps_growing: asked with T of the basis so far (j×j, float64) after each step from
            the second on, before the next ``matvec``; ``False`` ends the iteration there
            (an adaptive Krylov dimension: :func:`kryball.subspace.until_the_model_settles`).
            ``None``: ``dim`` steps.

    Returns:
        ``(Q, T)``: ``Q`` (n×m, ``v0``'s dtype) has orthonormal columns spanning
        𝒦_m(H, v0); ``T`` (m×m, float64, on ``v0``'s device) is the symmetric
        tridiagonal ``QᵀHQ``. ``m < dim`` when the Krylov space is invariant
        (breakdown: H restricted to it is exactly T) or ``keeps_growing`` said so, and
        ``m = 0`` for ``v0 = 0``.
    """
    if dim < 1:
        raise ValueError(f"dim must be at least 1, got {dim}")
    if v0.ndim != 1:
        raise ValueError(f"v0 must be a flat vector, got shape {tuple(v0.shape)}")
    if tol is None:
        tol = dependence_tolerance(v0.dtype)
    dim = min(dim, v0.numel())
    rows = v0.new_zeros(dim, v0.numel())  # the basis as rows: each vector contiguous for matvec
    alphas, betas = [], []

    norm = v0.norm().item()
    if norm == 0 or not math.isfinite(norm):
        return rows[:0].T, torch.zeros(0, 0, dtype=torch.float64, device=v0.device)
    rows[0] = v0 / norm
    scale = 0.0  # running max of |α|, |β|: the size of T, for a relative breakdown test
    for j in range(dim):
        w = matvec(rows[j])
        alphas.append((rows[j] * w).sum(dtype=torch.float64).item())  # accumulated in float64
        w = orthogonalise(rows[: j + 1], w)  # full re-orthogonalisation
        if j + 1 == dim or j > 0 and keeps_growing is not None and not keeps_growing(_tridiagonal(alphas, betas)):
            break
        beta = w.norm(dtype=torch.float64).item()
        scale = max(scale, abs(alphas[-1]), beta)
        if beta <= tol * scale:  # invariant subspace: stop, never divide by ~0
            break
        betas.append(beta)
        rows[j + 1] = w / beta

    return rows[:len(alphas)].T, _tridiagonal(alphas, betas[:len(alphas) - 1]).to(v0.device)


def _tridiagonal(alphas: list[float], betas: list[float]) -> torch.Tensor:
    """The symmetric tridiagonal T with diagonal ``alphas`` and off-diagonal ``betas`` (float64)."""
    m = len(alphas)
    T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    off_diagonal = torch.arange(m - 1)
    T[off_diagonal, off_diagonal + 1] = T[off_diagonal + 1, off_diagonal] = torch.tensor(betas, dtype=torch.float64)
    return T
