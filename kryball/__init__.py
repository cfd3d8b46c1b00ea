"""KryBall: Krylov saddle-free Newton steps in a trust region, for PyTorch.

``from kryball import KryBall`` gives the optimiser; ``kryball.options.Options`` documents its
hyperparameters. One step is thesis Algorithm 4 (docs/design.md §2 lists it line by line), and
each part is a module named for it, usable alone:

- :mod:`kryball.closure` — evaluating the user's closure (at θ, at trial points, on sub-batches), and
  ``curvature_examples`` for closures a framework wraps;
- :mod:`kryball.repeatable` — one network for every evaluation of a step (random streams, running statistics);
- :mod:`kryball.curvature` — Hessian-vector (or Gauss–Newton) products from one graph;
- :mod:`kryball.losses` — ``Residuals`` and ``Outputs``: losses given by a network's outputs, for Gauss–Newton;
- :mod:`kryball.krylov` — ``lanczos``: an orthonormal Krylov basis and T = QᵀHQ;
- :mod:`kryball.saddle_free` — ``sfn_direction``: the saddle-free Newton direction in it;
- :mod:`kryball.subspace` — the search subspace and the curvature along it;
- :mod:`kryball.trust_region` — ``solve_subproblem``, the radius rules and the loop;
- :mod:`kryball.state` — what a step keeps and reports; :mod:`kryball.parameters` — θ and its groups;
- :mod:`kryball.distributed` — the same step on a batch shared by several processes;
- :mod:`kryball.reference` — a slow dense KryBall the fast path is tested against;
- :mod:`kryball.analysis` — loss-landscape samples and the Krylov reconstruction error.
"""

from .closure import WholeBatchCurvature, curvature_examples
from .krylov import lanczos
from .losses import Outputs, Residuals
from .optimizer import KryBall
from .options import BEYOND_THESIS, HYPERPARAMETERS, Options
from .saddle_free import exact_sfn_direction, sfn_direction
from .state import Status, StepInfo
from .trust_region import TrustRegionSolution, solve_subproblem

__all__ = [
    "BEYOND_THESIS",
    "HYPERPARAMETERS",
    "KryBall",
    "Options",
    "Outputs",
    "Residuals",
    "Status",
    "StepInfo",
    "TrustRegionSolution",
    "WholeBatchCurvature",
    "curvature_examples",
    "exact_sfn_direction",
    "lanczos",
    "sfn_direction",
    "solve_subproblem",
]
