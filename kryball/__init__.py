"""KryBall: Krylov saddle-free Newton steps in a trust region, for PyTorch.

``from kryball import KryBall`` gives the optimiser; its parts are usable alone:
``kryball.krylov.lanczos``, ``kryball.saddle_free.sfn_direction``,
``kryball.trust_region.solve_subproblem`` and ``kryball.hvp.HessianVectorProducts``.
Options beyond the thesis (issue 7) use ``kryball.first_order`` (Adam's moment estimates) and
``kryball.preconditioning`` (the Krylov space of D⁻¹H).
"""

from .krylov import lanczos
from .optimizer import HYPERPARAMETERS, KryBall, StepInfo
from .saddle_free import exact_sfn_direction, sfn_direction
from .trust_region import TrustRegionSolution, solve_subproblem

__all__ = [
    "HYPERPARAMETERS",
    "KryBall",
    "StepInfo",
    "TrustRegionSolution",
    "exact_sfn_direction",
    "lanczos",
    "sfn_direction",
    "solve_subproblem",
]
