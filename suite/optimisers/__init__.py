"""How the suite builds an optimiser from its config, and the adapters that library optimisers need.

- ``build.py`` — :func:`build_optimizer`: the one place an ``optim=`` config becomes an optimiser.
  What the suite must know beyond the constructor's arguments is data in the config's ``suite:``
  node (:class:`~suite.optimisers.build.SuiteOptions`): how to group the model's parameters, whether
  the closure keeps the gradient's graph, whether the method needs the whole batch, whether it evaluates
  other weights than it trains (:func:`~suite.optimisers.build.set_mode`: Schedule-Free's train/eval modes).
- ``presentation.py`` — how reports show it, declared in the same node: its label, colour and line style,
  its family (its role in the comparison) and the numbers the thesis printed for it.
- ``muon.py`` — Muon as its authors prescribe: hidden weight matrices apart from the rest (AdamW),
  and the Newton–Schulz iteration in float32 on a CPU.
- ``trust_krylov.py`` with ``flat_objective.py`` — a full-batch trust-region Newton method with a
  Krylov subproblem solver (scipy's ``trust-krylov``) as a ``torch.optim.Optimizer``.

The optimisers themselves come from maintained libraries (``pytorch-optimizer``, scipy); nothing
here re-implements one (docs/extending.md, "Adding an optimiser").
"""

from .build import SuiteOptions, build_optimizer, set_mode

__all__ = ["SuiteOptions", "build_optimizer", "set_mode"]
