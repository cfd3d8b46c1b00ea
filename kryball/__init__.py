"""KryBall: Krylov saddle-free Newton steps in a trust region, for PyTorch.

``from kryball import KryBall`` gives the optimiser; ``kryball.options.Options`` documents
its hyperparameters. Its parts are usable alone: ``kryball.krylov.lanczos``,
``kryball.saddle_free.sfn_direction``, ``kryball.trust_region.solve_subproblem`` and
``kryball.hvp.HessianVectorProducts``. The options beyond the thesis are pieces of their
own: ``kryball.extra_directions``, ``kryball.momentum``, ``kryball.preconditioning`` (the
Krylov space of D⁻¹H), ``kryball.first_order`` (Adam's moment estimates, first-order
steps), ``kryball.hybrid`` (hybrid phases, fallback), ``kryball.refresh`` and ``kryball.sub_batch``
(curvature on a sub-batch).
"""

from .krylov import lanczos
from .optimizer import KryBall
from .options import BEYOND_THESIS, HYPERPARAMETERS, Options
from .saddle_free import exact_sfn_direction, sfn_direction
from .step_info import Status, StepInfo
from .trust_region import TrustRegionSolution, solve_subproblem

__all__ = [
    "BEYOND_THESIS",
    "HYPERPARAMETERS",
    "KryBall",
    "Options",
    "Status",
    "StepInfo",
    "TrustRegionSolution",
    "exact_sfn_direction",
    "lanczos",
    "sfn_direction",
    "solve_subproblem",
]
