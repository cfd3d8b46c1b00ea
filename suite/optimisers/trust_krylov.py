"""``optim=trust_krylov``: a full-batch trust-region Newton method with a Krylov subproblem solver —
scipy's ``minimize(method="trust-krylov")`` as a ``torch.optim.Optimizer``.

The classical method that KryBall is a subspace variant of (thesis ch. 4): each iteration solves
the trust-region subproblem min gᵀp + ½pᵀHp, ‖p‖ ≤ Δ, over a growing Krylov space of H (the
GLTR method of Gould, Lucidi, Roma & Toint, 1999, in Lenders, Kirches & Potschka's trlib, which
scipy ships), with Hessian-vector products only, then accepts the step when ρ > η and updates Δ by
Nocedal & Wright's Algorithm 4.1 (scipy's ``_trustregion.py``). pytorch-minimize's ``trust-krylov``
is a port of the same, but its module says "not yet complete. It is not ready for use", so scipy's
is used, through a flat float64 vector (:class:`~suite.optimisers.flat_objective.FlatObjective`).

One ``step(closure)`` — one epoch of a full-batch task — is one call of scipy's method from the
current point: up to ``max_iter`` iterations (20, as ``optim=lbfgs``'s "ideal" mode, Table 5.1), or
fewer when ‖g‖ < ``gtol``. scipy does not return its final radius, so each step starts again from
``initial_trust_radius``; everything else it needs is the current point. Every function/gradient
evaluation and every HVP is counted in ``totals`` (kept in the optimiser's state, so a resumed run
goes on counting), which replace the closure's tally (``suite.step_closure.Counts.sync``). The closure
only evaluates the loss: the gradients are taken here (``computes_gradients``).
"""
from __future__ import annotations

import scipy.optimize
import torch
from torch.optim import Optimizer

from .flat_objective import FlatObjective

COUNTS = ("gradient_evals", "hvps", "loss_evals")


class TrustKrylov(Optimizer):
    """scipy's trust-krylov, ``max_iter`` iterations per ``step``; the other arguments are scipy's
    options of the same names, with its defaults (Nocedal & Wright, Algorithm 4.1)."""

    computes_gradients = True  # tells the suite's closure: evaluate the loss only

    def __init__(self, params, max_iter: int = 20, initial_trust_radius: float = 1.0,
                 max_trust_radius: float = 1000.0, eta: float = 0.15, gtol: float = 1e-4, inexact: bool = True):
        if not (isinstance(max_iter, int) and max_iter >= 1):
            raise ValueError(f"max_iter must be an integer ≥ 1, got {max_iter!r}")
        if not 0 < initial_trust_radius < max_trust_radius:
            raise ValueError(f"need 0 < initial_trust_radius < max_trust_radius, got {initial_trust_radius!r} "
                             f"and {max_trust_radius!r}")
        if not 0 <= eta < 0.25:
            raise ValueError(f"eta must be in [0, 0.25) (Nocedal & Wright, Algorithm 4.1), got {eta!r}")
        if not gtol >= 0:
            raise ValueError(f"gtol must be ≥ 0, got {gtol!r}")
        super().__init__(params, dict(max_iter=max_iter, initial_trust_radius=initial_trust_radius,
                                      max_trust_radius=max_trust_radius, eta=eta, gtol=gtol, inexact=inexact))
        if not self._trainable():
            raise ValueError("trust_krylov has no trainable parameters")

    def _trainable(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"] if p.requires_grad]

    def _totals(self) -> dict[str, int]:
        state = self.state[self._trainable()[0]]
        return state.setdefault("totals", dict.fromkeys(COUNTS, 0))

    @property
    def totals(self) -> dict[str, int]:
        """Cumulative evaluations and HVPs since construction (restored by ``load_state_dict``)."""
        return dict(self._totals())

    def step(self, closure):
        """Up to ``max_iter`` trust-region iterations on the closure's loss; returns the loss at the start."""
        if closure is None:
            raise RuntimeError("trust_krylov needs a closure that returns the loss; it evaluates it many times per step")
        params = self._trainable()
        options = {key: value for key, value in self.param_groups[0].items() if key != "params"}
        objective = FlatObjective(params, closure, self._totals())
        start = objective.flatten(params)
        result = scipy.optimize.minimize(
            objective.evaluate, start, jac=True, hessp=objective.hessp, method="trust-krylov",
            options=dict(maxiter=options["max_iter"], initial_trust_radius=options["initial_trust_radius"],
                         max_trust_radius=options["max_trust_radius"], eta=options["eta"], gtol=options["gtol"],
                         inexact=options["inexact"]))
        objective.release()
        objective.assign(result.x)
        return torch.tensor(objective.first_loss, dtype=params[0].dtype)
