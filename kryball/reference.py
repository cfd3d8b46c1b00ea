"""A slow, dense KryBall for small problems: the definition the fast path is tested against.

Everything here is the textbook form of thesis Algorithm 4 on a flat float64
vector θ, written from the thesis and Nocedal & Wright rather than from the fast
path, so that a test comparing the two sees a mistake in either: the full Hessian
from ``torch.autograd.functional.hessian``; the Krylov basis by dense Arnoldi
(thesis Algorithm 2); the saddle-free direction from the eigendecomposition of the
projected Hessian QᵀHQ (eqs 4.7–4.12); the search subspace by Gram–Schmidt on
n-vectors and ``A = XᵀHX`` by dense products (eqs 4.13–4.15); the trust-region
subproblem by the eigendecomposition of A and bisection on the multiplier
(Nocedal & Wright, *Numerical Optimization*, Theorem 4.1); and ρ, acceptance and the
radius rule of Nocedal & Wright Algorithm 4.1 (thesis Algorithm 3), with their
constants written here. Nothing of ``kryball``'s step is imported but the options'
validation. With a Krylov dimension that spans the whole space, its saddle-free
direction is the exact one (eqs 4.1–4.3).
"""

import math
from typing import Callable

import torch

from .options import Options

_TOL = 1e-8  # dependence / breakdown tolerance, relative, in float64


def dense_arnoldi(H: torch.Tensor, v0: torch.Tensor, dim: int) -> torch.Tensor:
    """Orthonormal basis of span{v0, Hv0, …, H^{dim−1}v0} (thesis Algorithm 2), stopping at breakdown."""
    basis = [v0 / v0.norm()] if v0.norm() > 0 else []
    while basis and len(basis) < dim:
        w = H @ basis[-1]
        for _ in range(2):
            for q in basis:
                w = w - q * (q @ w)
        if w.norm() <= _TOL * H.abs().max():
            break
        basis.append(w / w.norm())
    return torch.stack(basis, dim=1) if basis else v0.new_zeros(v0.numel(), 0)


def gram_schmidt(vectors: list[torch.Tensor]) -> torch.Tensor:
    """Orthonormal columns spanning ``vectors``, in order, dropping dependent ones."""
    basis = []
    for v in vectors:
        r = v
        for _ in range(2):
            for q in basis:
                r = r - q * (q @ r)
        if v.norm() > 0 and r.norm() > _TOL * v.norm():
            basis.append(r / r.norm())
    return torch.stack(basis, dim=1) if basis else vectors[0].new_zeros(vectors[0].numel(), 0)


def saddle_free_direction(H: torch.Tensor, Q: torch.Tensor, g: torch.Tensor, eig_clip: float) -> torch.Tensor:
    """d = −Q V |Λ|_ε⁻¹ Vᵀ Qᵀg for QᵀHQ = VΛVᵀ, with |λ| raised to ε (thesis eqs 4.7–4.12; ε = 0: to the
    smallest positive float, the ε → 0 limit)."""
    eigenvalues, V = torch.linalg.eigh(Q.T @ H @ Q)
    magnitudes = torch.clamp(eigenvalues.abs(), min=max(eig_clip, torch.finfo(torch.float64).tiny))
    return -(Q @ (V @ ((V.T @ (Q.T @ g)) / magnitudes)))


def dense_subproblem(A: torch.Tensor, b: torch.Tensor, radius: float) -> tuple[torch.Tensor, bool]:
    """min bᵀα + ½αᵀAα subject to ‖α‖ ≤ radius, and whether the solution is on the boundary.

    Nocedal & Wright Theorem 4.1: α solves it iff (A + λI)α = −b for some λ ≥ 0 with A + λI
    positive semi-definite and λ(radius − ‖α‖) = 0. In A's eigenbasis ‖α(λ)‖ falls with λ, so λ
    is found by bisection; when b has no part along the lowest eigenvectors and α(−λ₁) still lies
    inside (the hard case), the step is completed to the boundary along the lowest eigenvector.
    """
    eigenvalues, V = torch.linalg.eigh(A)
    beta = V.T @ b
    lowest = eigenvalues[0].item()
    scale = max(eigenvalues.abs().max().item(), b.norm().item() / radius)

    def step(lam: float, components: torch.Tensor) -> torch.Tensor:
        return -(V @ (components / (eigenvalues + lam)))

    if lowest > 0 and step(0.0, beta).norm() <= radius:
        return step(0.0, beta), False  # the Newton step fits: λ = 0
    lower = max(0.0, -lowest)
    at_lowest = (eigenvalues - lowest).abs() <= 1e-10 * scale
    if beta[at_lowest].norm() <= 1e-10 * scale * radius:  # possibly the hard case
        others = torch.where(at_lowest, torch.zeros_like(beta), beta)
        shifted = eigenvalues + lower
        inside = -(V[:, ~at_lowest] @ (others[~at_lowest] / shifted[~at_lowest]))
        if inside.norm() <= radius:
            tail = math.sqrt(max(radius**2 - inside.norm().item() ** 2, 0.0))
            return inside + tail * V[:, 0], True
    lo, hi = lower, lower + b.norm().item() / radius  # ‖α(hi)‖ ≤ radius
    for _ in range(200):
        middle = (lo + hi) / 2
        if middle in (lo, hi):
            break
        if step(middle, beta).norm() > radius:
            lo = middle
        else:
            hi = middle
    return step(hi, beta), True


class ReferenceKryBall:
    """Dense KryBall on ``loss_fn(θ)`` for a flat θ; same hyperparameters and defaults as ``KryBall``.

    ``step()`` performs one iteration and returns the loss before it; ``theta``,
    ``radius``, ``momentum``, ``krylov_basis`` (with the eigenvalues of QᵀHQ, ``ritz_values``)
    and ``sfn_direction`` expose the state.
    """

    # Nocedal & Wright Algorithm 4.1 (thesis Algorithm 3): below ρ = ¼ the radius shrinks to a quarter; above ρ = ¾
    # with the step on the boundary it doubles.
    SHRINK_BELOW, SHRINK_FACTOR, EXPAND_ABOVE, EXPAND_FACTOR = 0.25, 0.25, 0.75, 2.0

    def __init__(self, loss_fn: Callable[[torch.Tensor], torch.Tensor], theta0: torch.Tensor, **hyperparameters):
        self.options = Options(**hyperparameters)
        if self.options.beyond_thesis():
            raise ValueError("ReferenceKryBall implements the thesis algorithm: "
                             f"{', '.join(self.options.beyond_thesis())} must be off")
        self.loss_fn = loss_fn
        self.theta = theta0.detach().to(torch.float64).clone()
        self.radius = float(self.options.initial_radius)
        self.momentum = torch.zeros_like(self.theta)
        self.krylov_basis = self.theta.new_zeros(self.theta.numel(), 0)
        self.ritz_values = self.theta.new_zeros(0)
        self.sfn_direction = None
        self.t = 0

    def step(self) -> float:
        theta, options = self.theta, self.options
        loss = self.loss_fn(theta).item()
        g = torch.func.grad(self.loss_fn)(theta)
        H = torch.autograd.functional.hessian(self.loss_fn, theta)
        H = (H + H.T) / 2
        z = self.momentum
        if self.t % options.refresh == 0:  # Algorithm 4, lines 5–10
            Q = dense_arnoldi(H, g, options.krylov_dim)
            self.sfn_direction = saddle_free_direction(H, Q, g, options.eig_clip)
            self.krylov_basis, self.ritz_values = Q, torch.linalg.eigvalsh(Q.T @ H @ Q)
            X = gram_schmidt([g, z, self.sfn_direction])
        else:  # line 12
            X = gram_schmidt([g, z, *self.krylov_basis.T])
        A, b = X.T @ H @ X, X.T @ g

        for _ in range(options.max_retries + 1):  # lines 15–19
            alpha, on_boundary = dense_subproblem(A, b, self.radius)
            predicted = -(b @ alpha + 0.5 * alpha @ A @ alpha).item()
            if predicted <= torch.finfo(torch.float64).eps * abs(loss):
                break  # no decrease the loss could show: stationary to working precision, nothing tried
            trial = self.loss_fn(theta + X @ alpha).item()
            rho = (loss - trial) / predicted if math.isfinite(trial) else -math.inf
            self.radius = self._new_radius(rho, on_boundary)
            if rho > options.accept_ratio:
                self.theta = theta + X @ alpha
                break
        self.momentum = options.momentum * z + g  # line 20
        self.t += 1
        return loss

    def _new_radius(self, rho: float, on_boundary: bool) -> float:
        radius = self.radius
        if rho < self.SHRINK_BELOW:
            radius = self.SHRINK_FACTOR * radius
        elif rho > self.EXPAND_ABOVE and on_boundary:
            radius = min(self.EXPAND_FACTOR * radius, self.options.max_radius)
        return max(radius, self.options.min_radius)
