"""What one ``KryBall.step`` did: how it ended (``Status``) and the record ``opt.last_step`` (``StepInfo``)."""

import enum
from dataclasses import dataclass


class Status(str, enum.Enum):
    """How a step ended. A ``str`` enum, so ``info.status == "accepted"`` holds and it prints as its value."""

    ACCEPTED = "accepted"  # ρ > η: θ moved to the trial point (thesis Algorithm 4, line 18)
    REJECTED = "rejected"  # ρ ≤ η: θ stayed, the radius shrank
    STATIONARY = "stationary"  # the model predicts no decrease the loss's precision could show: no trial made
    NON_FINITE_LOSS = "non-finite loss"  # at the current point; nothing was changed
    NON_FINITE_GRADIENT = "non-finite gradient"  # at the current point; nothing was changed
    NON_FINITE_CURVATURE = "non-finite curvature"  # a Hessian-vector product was not finite; nothing was changed
    FALLBACK = "fallback"  # beyond the thesis (§5.5.4): the step was rejected and a first-order step taken instead
    FIRST_ORDER = "first-order"  # beyond the thesis (§6.2.1): a hybrid phase's first-order step

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class StepInfo:
    """What one ``KryBall.step`` did (``opt.last_step``).

    ``status`` is a :class:`Status`; ``loss`` the loss at the point the step started
    from; ``trial_loss``, ``rho``, ``predicted_reduction``, ``actual_reduction`` and
    ``multiplier`` (the subproblem's λ) describe the last trial point, if one was
    tried. ``radius`` is the radius after the update; ``step_norm`` the length of the
    last step tried (or of the first-order step taken). ``ritz_values`` are the
    eigenvalues of the Lanczos matrix T on refresh steps (ascending), else ``None``.
    ``retries`` counts re-solves after a rejection, ``hvps`` and ``loss_evals`` the
    step's Hessian-vector products and loss evaluations.
    """

    status: Status
    loss: float
    trial_loss: float | None = None
    rho: float | None = None
    radius: float | None = None
    accepted: bool = False
    predicted_reduction: float | None = None
    actual_reduction: float | None = None
    step_norm: float = 0.0
    multiplier: float | None = None
    ritz_values: tuple[float, ...] | None = None
    refreshed: bool = False
    subspace_dim: int = 0
    retries: int = 0
    hvps: int = 0
    loss_evals: int = 1
