"""The trust region of one step: the exact small subproblem solver, the radius rules, and the loop that owns them
(thesis Algorithm 4, lines 15–19; thesis Algorithm 3).

The solver is general-purpose: it minimises any quadratic ``bᵀα + ½αᵀAα`` with a
symmetric ``A`` of any (small) size over the ball ``‖α‖ ≤ Δ``, exactly, the hard
case included (Moré & Sorensen 1983; Nocedal & Wright, *Numerical Optimization*,
2nd ed., §4.3). KryBall calls it on the k×k projected problem of thesis eqs 4.14–4.15.

The radius update and acceptance test follow Nocedal & Wright Algorithm 4.1 (thesis
Algorithm 3), written as pure functions. As in scipy's ``optimize/_trustregion.py``, the
loop (:func:`trust_region_step`) owns ρ and the radius and takes the subproblem solver as
an argument. Its model is the quadratic of thesis eqs 4.14–4.15 in the coordinates α of
an orthonormal search basis. Each trial point is evaluated once (:class:`TrialPoints`);
after a rejection the same subproblem is re-solved at the shrunk radius, up to
``max_retries`` times, without new Hessian-vector products.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, NamedTuple

import numpy as np
import torch

from .parameters import assign
from .state import Status, StepInfo, Totals

if TYPE_CHECKING:
    from .closure import Closure
    from .options import Options

# Nocedal & Wright Algorithm 4.1 (and scipy's trust-region loop) use these constants:
# a step that realises less than a quarter of the predicted decrease shrinks the
# region to a quarter; one that realises more than three quarters while hitting the
# boundary doubles it.
SHRINK_BELOW = 0.25
SHRINK_FACTOR = 0.25
EXPAND_ABOVE = 0.75
EXPAND_FACTOR = 2.0


class TrustRegionSolution(NamedTuple):
    """Solution of ``min bᵀα + ½αᵀAα  s.t. ‖α‖ ≤ radius``.

    ``step`` is α; ``multiplier`` is λ ≥ 0 with ``(A + λI)α = −b``, ``A + λI``
    positive semi-definite and ``λ(radius − ‖α‖) = 0``; ``hits_boundary`` says
    whether ``‖α‖ = radius``.
    """

    step: torch.Tensor
    multiplier: float
    hits_boundary: bool


def solve_subproblem(A: torch.Tensor, b: torch.Tensor, radius: float) -> TrustRegionSolution:
    """Solve the dense trust-region subproblem exactly (a general-purpose solver).

    Minimises ``bᵀα + ½αᵀAα`` subject to ``‖α‖₂ ≤ radius`` for a symmetric ``A``
    (k×k, any k ≥ 0, definite, indefinite or singular). Works in the eigenbasis of
    ``A`` (one symmetric eigendecomposition, computed in float64 on the host), where the
    secular equation ``‖(A + λI)⁻¹b‖ = radius`` is one-dimensional and solved by
    safeguarded Newton iteration on ``1/‖α(λ)‖ − 1/radius`` (Nocedal & Wright
    §4.3). When ``b`` has no component along the lowest eigenvector and the
    shifted system's solution lies inside the ball — the *hard case* — the step is
    completed to the boundary along that eigenvector.

    The result is returned in ``A``'s dtype and device; ``A`` is symmetrised as
    ``(A + Aᵀ)/2`` so that round-off asymmetry does no harm.
    """
    if A.ndim != 2 or A.shape[0] != A.shape[1] or b.shape != (A.shape[0],):
        raise ValueError(f"solve_subproblem needs A of shape (k, k) and b of shape (k,), got {tuple(A.shape)} and {tuple(b.shape)}")
    if not radius > 0 or not math.isfinite(radius):
        raise ValueError(f"radius must be positive and finite, got {radius}")
    # The problem is small: NumPy float64 on the host beats many tiny device operations.
    A64 = A.detach().to("cpu", torch.float64).numpy()
    b64 = b.detach().to("cpu", torch.float64).numpy()
    if not (np.isfinite(A64).all() and np.isfinite(b64).all()):
        raise ValueError("solve_subproblem needs finite A and b")
    step, multiplier, hits_boundary = _solve(A64, b64, float(radius))
    return TrustRegionSolution(torch.from_numpy(step).to(dtype=A.dtype, device=A.device), multiplier, hits_boundary)


def _solve(A: np.ndarray, b: np.ndarray, radius: float) -> tuple[np.ndarray, float, bool]:
    if A.shape[0] == 0:
        return np.zeros(0), 0.0, False
    eigenvalues, V = np.linalg.eigh((A + A.T) / 2)
    beta = V.T @ b  # b in the eigenbasis
    b_norm = float(np.linalg.norm(b))
    scale = max(float(np.abs(eigenvalues).max()), b_norm / radius, np.finfo(np.float64).tiny)
    # Eigenvalues this close to the lowest one act as one (possibly repeated) eigenvalue,
    # and gradient components this small are round-off: both thresholds are relative.
    tiny = 64 * A.shape[0] * np.finfo(np.float64).eps * scale
    shift = max(0.0, -float(eigenvalues[0]))
    singular = (eigenvalues + shift) <= tiny

    if np.linalg.norm(beta[singular]) <= tiny * radius:
        # λ = shift is feasible: (A + shift·I) is PSD and b lies in its range.
        coefficients = np.zeros_like(beta)
        coefficients[~singular] = -beta[~singular] / (eigenvalues[~singular] + shift)
        norm = float(np.linalg.norm(coefficients))
        if norm <= radius:
            if shift == 0.0:
                # Interior (possibly minimum-norm on a singular PSD A): λ = 0.
                return V @ coefficients, 0.0, norm >= radius * (1 - 1e-12)
            # Hard case: move along the lowest eigenvector to the boundary.
            coefficients[0] = math.sqrt(max(radius**2 - norm**2, 0.0))
            return V @ coefficients, shift, True

    multiplier = _secular_newton(eigenvalues, beta, radius, shift, b_norm)
    coefficients = -beta / (eigenvalues + multiplier)
    norm = float(np.linalg.norm(coefficients))
    if norm < radius:
        # Near the hard case λ sits within round-off of −λ_min, where ‖α(λ)‖ cannot be
        # resolved; finish the step to the boundary along the lowest eigenvector, which
        # changes (A + λI)α by only (λ_min + λ)·τ (Moré & Sorensen 1983, §3).
        lowest = float(coefficients[0])
        coefficients[0] = math.copysign(math.sqrt(radius**2 - norm**2 + lowest**2), lowest)
    else:
        coefficients *= radius / norm
    return V @ coefficients, multiplier, True


def _secular_newton(eigenvalues, beta, radius, lower, b_norm, max_iter=200):
    """λ > lower with ‖α(λ)‖ = radius, by Newton on φ(λ) = 1/‖α(λ)‖ − 1/radius.

    φ is increasing and concave on (lower, ∞), so Newton from the left converges
    monotonically; a bracket [lo, hi] with bisection guards round-off. At
    ``hi = lower + ‖b‖/radius`` every shifted eigenvalue is ≥ ‖b‖/radius, so
    ‖α(hi)‖ ≤ radius.
    """
    lo, hi = lower, lower + b_norm / radius
    lam = hi
    beta_sq = beta**2
    for _ in range(max_iter):
        shifted = eigenvalues + lam
        norm = math.sqrt(float((beta_sq / shifted**2).sum()))
        if abs(norm - radius) <= 1e-14 * radius:
            return lam
        if norm > radius:
            lo = lam
        else:
            hi = lam
        derivative = float((beta_sq / shifted**3).sum()) / norm**3
        newton = lam - (1 / norm - 1 / radius) / derivative
        lam = newton if lo < newton < hi else (lo + hi) / 2
        if hi - lo <= 4 * np.finfo(np.float64).eps * max(abs(hi), 1.0):
            return hi
    return lam


def reduction_ratio(actual: float, predicted: float) -> float:
    """ρ = actual / predicted reduction (thesis Algorithm 3); −∞ for a non-finite trial loss.

    A non-finite actual reduction (the trial loss was NaN or ±∞) counts as the worst
    possible agreement, so the step is rejected and the region shrinks.
    """
    if not math.isfinite(actual):
        return -math.inf
    return actual / predicted


def predicted_reduction(A: torch.Tensor, b: torch.Tensor, alpha: torch.Tensor) -> float:
    """The decrease −(bᵀα + ½αᵀAα) the quadratic model predicts for the step α (thesis eq. 4.14)."""
    return -(b @ alpha + 0.5 * alpha @ A @ alpha).item()


def predicts_measurable_decrease(predicted: float, loss: float, eps: float) -> bool:
    """Whether a predicted reduction is large enough to be seen in the loss at all.

    A trial point whose predicted decrease is below the loss's floating-point
    resolution (``eps·|loss|``, with ``eps`` of the parameters' dtype) can only
    measure round-off: its ρ is noise, and rejecting it would shrink the radius for
    nothing. Such a step is not tried (the point is stationary to working precision).
    """
    return predicted > eps * abs(loss)


def is_accepted(rho: float, accept_ratio: float) -> bool:
    """Accept the trial point when ρ exceeds ``accept_ratio`` (η in Nocedal & Wright Alg. 4.1)."""
    return rho > accept_ratio


def update_radius(radius: float, rho: float, hits_boundary: bool, *, max_radius: float, min_radius: float) -> float:
    """Nocedal & Wright Algorithm 4.1 radius rule, kept within [min_radius, max_radius].

    ρ < 1/4 → Δ/4; ρ > 3/4 with the step on the boundary (the solver's
    ``hits_boundary``) → min(2Δ, max_radius); otherwise unchanged. The floor keeps a
    run of rejections (noisy mini-batches) from shrinking Δ to a value no float step
    can recover from.
    """
    if rho < SHRINK_BELOW:
        radius = SHRINK_FACTOR * radius
    elif rho > EXPAND_ABOVE and hits_boundary:
        radius = min(EXPAND_FACTOR * radius, max_radius)
    return max(radius, min_radius)


# The loop.

class QuadraticModel(NamedTuple):
    """``m(α) = bᵀα + ½αᵀAα`` for the step ``p = E C α`` (thesis eqs 4.14–4.15).

    E (n×e) and C (e×k, float64) have orthonormal columns, so ``‖p‖ = ‖α‖``; the n×k
    matrix E C is never formed.
    """

    curvature: torch.Tensor  # A = CᵀKC, float64
    gradient: torch.Tensor  # b = CᵀEᵀg, float64
    basis: torch.Tensor  # E
    coordinates: torch.Tensor  # C

    def step(self, alpha: torch.Tensor) -> torch.Tensor:
        """The step ``p = E (C α)`` in the parameters' dtype."""
        return self.basis @ (self.coordinates @ alpha).to(self.basis.dtype)


class TrialPoints:
    """Trial points θ + p around the current θ: moves the parameters there and evaluates the loss."""

    def __init__(self, params: list[torch.Tensor], closure: Closure, totals: Totals, theta: torch.Tensor):
        self._params, self._closure, self._totals = params, closure, totals
        self.theta = theta  # θ, flat: the step's copy, which it also restores after an exception

    def loss_at(self, p: torch.Tensor) -> float:
        """Move θ to θ + p and return the loss there (without a graph where the closure allows: :mod:`kryball.closure`)."""
        self.move_to(p)
        trial_loss = self._closure.without_graph().item()
        self._totals.loss_evals += 1
        return trial_loss

    @torch.no_grad()
    def move_to(self, p: torch.Tensor) -> None:
        assign(self._params, self.theta + p)

    def restore(self) -> None:
        assign(self._params, self.theta)  # exactly the old values, not θ + p − p


class TrustRegionOutcome(NamedTuple):
    """How the iteration ended: the step's record so far (status, trial loss, ρ, the new radius, …), the last
    step ``tried`` and the step θ was moved by, ``taken`` (``None``: θ did not move)."""

    info: StepInfo
    tried: torch.Tensor | None = None
    taken: torch.Tensor | None = None


Solver = Callable[[torch.Tensor, torch.Tensor, float], TrustRegionSolution]


@torch.no_grad()
def trust_region_step(model: QuadraticModel, radius: float, loss: float, trial: TrialPoints, options: Options,
                      solve: Solver = solve_subproblem) -> TrustRegionOutcome:
    """Solve the subproblem at ``radius``, try the step, accept or reject it by ρ and update the radius
    (Nocedal & Wright Algorithm 4.1, thesis Algorithm 3); after a rejection, re-solve at the shrunk
    radius up to ``options.max_retries`` times. θ is left at the accepted point, or restored exactly."""
    eps = torch.finfo(trial.theta.dtype).eps
    outcome = TrustRegionOutcome(StepInfo(Status.STATIONARY, loss, radius=radius))
    for attempt in range(options.max_retries + 1):
        solution = solve(model.curvature, model.gradient, radius)
        alpha = solution.step.to(torch.float64)
        predicted = predicted_reduction(model.curvature, model.gradient, alpha)
        if not predicts_measurable_decrease(predicted, loss, eps):
            break  # stationary to working precision: nothing to try
        p = model.step(alpha)
        trial_loss = trial.loss_at(p)
        actual = loss - trial_loss
        rho = reduction_ratio(actual, predicted)
        accepted = is_accepted(rho, options.accept_ratio)
        radius = update_radius(radius, rho, solution.hits_boundary,
                               max_radius=options.max_radius, min_radius=options.min_radius)
        info = StepInfo(Status.ACCEPTED if accepted else Status.REJECTED, loss, trial_loss, rho, radius, accepted,
                        predicted, actual, step_norm=alpha.norm().item(), multiplier=solution.multiplier,
                        retries=attempt, loss_evals=attempt + 2)
        outcome = TrustRegionOutcome(info, tried=p, taken=p if accepted else None)
        if accepted:
            break
        trial.restore()
    return outcome
