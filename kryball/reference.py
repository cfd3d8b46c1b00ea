"""A slow, dense KryBall for small problems: the definition the fast path is tested against.

Everything here is the textbook form of thesis Algorithm 4 on a flat float64
vector θ: the full Hessian from ``torch.autograd.functional.hessian``, the Krylov
basis by dense Arnoldi (thesis Algorithm 2), the saddle-free direction from the
projected Hessian QᵀHQ (eqs 4.7–4.12), the search subspace by Gram–Schmidt on
n-vectors and ``A = XᵀHX`` by dense products. It shares with ``KryBall`` only the
trust-region functions (solver, ρ, acceptance, radius rule), which have tests of
their own. With a Krylov dimension that spans the whole space, its saddle-free
direction is the exact one, ``exact_sfn_direction(H, g)``.
"""

from typing import Callable

import torch

from .options import Options
from .saddle_free import sfn_direction
from .trust_region import (is_accepted, predicted_reduction, predicts_measurable_decrease, reduction_ratio,
                           solve_subproblem, update_radius)

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


class ReferenceKryBall:
    """Dense KryBall on ``loss_fn(θ)`` for a flat θ; same hyperparameters and defaults as ``KryBall``.

    ``step()`` performs one iteration and returns the loss before it; ``theta``,
    ``radius``, ``momentum`` and ``sfn_direction`` expose the state.
    """

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
        self.sfn_direction = None
        self.t = 0

    def step(self) -> float:
        theta, options = self.theta, self.options
        loss = self.loss_fn(theta).item()
        g = torch.func.grad(self.loss_fn)(theta)
        H = torch.autograd.functional.hessian(self.loss_fn, theta)
        H = (H + H.T) / 2
        z = self.momentum
        if self.t % options.refresh == 0:
            Q = dense_arnoldi(H, g, options.krylov_dim)
            y, _ = sfn_direction(Q.T @ H @ Q, Q.T @ g, options.eig_clip)
            self.sfn_direction = Q @ y
            self.krylov_basis = Q
            X = gram_schmidt([g, z, self.sfn_direction])
        else:
            X = gram_schmidt([g, z, *self.krylov_basis.T])
        A, b = X.T @ H @ X, X.T @ g

        for _ in range(options.max_retries + 1):
            solution = solve_subproblem(A, b, self.radius)
            alpha = solution.step
            predicted = predicted_reduction(A, b, alpha)
            if not predicts_measurable_decrease(predicted, loss, torch.finfo(torch.float64).eps):
                break
            p = X @ alpha
            rho = reduction_ratio(loss - self.loss_fn(theta + p).item(), predicted)
            self.radius = update_radius(self.radius, rho, solution.hits_boundary,
                                        max_radius=options.max_radius, min_radius=options.min_radius)
            if is_accepted(rho, options.accept_ratio):
                self.theta = theta + p
                break
        self.momentum = options.momentum * z + g
        self.t += 1
        return loss
