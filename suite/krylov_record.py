"""What KryBall chose, epoch by epoch, in the run's record (metrics.csv): the Krylov dimension M its refresh
steps built and how often it refreshed.

With ``krylov_tol`` the basis stops growing where the trust-region model settles, so M is the problem's
choice, not the config's (thesis §5.5.3; docs/performance.md, "KryBall that needs no tuning"). Each step's
choice is in ``opt.last_step`` (``kryball.StepInfo``: ``refreshed``, ``krylov_dim``); this tally reads it
after every step and gives each epoch's row two columns:

- ``krylov_dim``: the mean M over the epoch's refresh steps (empty where no step refreshed);
- ``refreshes``: how many of the epoch's steps rebuilt the basis.

A run whose optimiser has no KryBall in it (a phased optimiser's phases included) has neither column.
"""
from __future__ import annotations

import torch

from kryball import KryBall

COLUMNS = ("krylov_dim", "refreshes")


def _phases(optimizer: torch.optim.Optimizer) -> tuple[torch.optim.Optimizer, ...]:
    """The optimisers that take steps: a phased optimiser's phases, else the optimiser itself."""
    return getattr(optimizer, "phases", (optimizer,))


class KrylovRecord:
    """Call :meth:`after_step` after every optimiser step and merge :meth:`end_epoch` into the epoch's row."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.kryballs = [phase for phase in _phases(optimizer) if isinstance(phase, KryBall)]
        self._seen = {id(opt): opt.last_step for opt in self.kryballs}  # a resumed run's last step is not this epoch's
        self._dims: list[int] = []

    def after_step(self) -> None:
        for opt in self.kryballs:
            step = opt.last_step
            if step is None or step is self._seen[id(opt)]:  # this phase did not take the step
                continue
            self._seen[id(opt)] = step
            if step.refreshed:
                self._dims.append(step.krylov_dim)

    def end_epoch(self) -> dict:
        """The epoch's columns (none for a run without KryBall), and a fresh tally for the next epoch."""
        if not self.kryballs:
            return {}
        dims, self._dims = self._dims, []
        return dict(zip(COLUMNS, (sum(dims) / len(dims) if dims else None, len(dims))))
