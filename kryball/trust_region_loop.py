"""One step's trust-region iteration: solve, try, ρ, accept or reject, radius (thesis Algorithm 4, lines 15–19).

As in scipy's ``optimize/_trustregion.py``, the loop owns ρ and the radius and takes
the subproblem solver as an argument. The model is the quadratic of thesis eqs
4.14–4.15 in the coordinates α of an orthonormal search basis. Each trial point is
evaluated once (``TrialPoints``); after a rejection the same subproblem is re-solved at
the shrunk radius, up to ``max_retries`` times, without new Hessian-vector products.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple

import torch

from .closure import Closure
from .flat import assign, flatten
from .step_info import Status, StepInfo
from .trust_region import (TrustRegionSolution, is_accepted, predicted_reduction, predicts_measurable_decrease,
                           reduction_ratio, solve_subproblem, update_radius)

if TYPE_CHECKING:
    from .options import Options


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

    @torch.no_grad()
    def __init__(self, params: list[torch.Tensor], closure: Closure, totals: dict[str, int]):
        self._params, self._closure, self._totals = params, closure, totals
        self.theta = flatten(params)

    def loss_at(self, p: torch.Tensor) -> float:
        """Move θ to θ + p and return the loss there (without a graph where the closure allows: :mod:`kryball.closure`)."""
        self.move_to(p)
        trial_loss = self._closure.without_graph().item()
        self._totals["loss_evals"] += 1
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
