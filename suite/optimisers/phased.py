"""``optim=adam_then_*``: one optimiser for the first ``switch_after`` steps, another after them — the phased
optimisation of physics-informed networks (Rathore, Lei, Frangella, Lu & Udell, ICML 2024, §2.2: Adam, then
L-BFGS; their code's ``Adam_LBFGS``), declared as data: the config's ``first`` and ``then`` nodes are ordinary
optimiser configs (``conf/optim/adam_then_lbfgs.yaml``), each built by the suite's builder on the same model
(``suite.optimisers.build``, ``suite.phases``).

The suite treats a :class:`Phased` as the optimiser of the phase it is in: what the closure must do
(``computes_gradients``, ``create_graph``, ``samples_curvature``, ``wants_residuals``: suite/step_closure.py) is
the active phase's, asked afresh every step. Costs stay cumulative across the switch: an optimiser that keeps its
own ``totals`` (KryBall, trust-krylov) counts from zero when it is built, so in the second phase the totals are those
counted before the switch — read from the closure's tally at the first step of the second phase — plus the
second phase's own; a phase without totals leaves the closure's tally running (``suite.step_closure.Counts.sync``).

``state_dict`` holds the step count, that tally and both phases' states, so a resumed run continues in the
phase and with the counts the uninterrupted run had (docs/design.md §5).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from ..step_closure import Counts
from .build import DoesNotApply


class Phased(torch.optim.Optimizer):
    """``first.step`` for steps 1 … ``switch_after``, ``then.step`` from then on (module docstring)."""

    def __init__(self, params, first: torch.optim.Optimizer, then: torch.optim.Optimizer, switch_after: int):
        if not (isinstance(switch_after, int) and switch_after >= 0):
            raise ValueError(f"switch_after must be an integer ≥ 0 (the first phase's steps), got {switch_after!r}")
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            raise DoesNotApply("a phased optimiser runs in one process (its phases would need different "
                               "data-parallel set-ups: docs/scaling.md)")
        super().__init__(params, dict(switch_after=switch_after))
        self.first, self.then, self.switch_after = first, then, switch_after
        self.steps = 0
        self.before_switch: dict[str, int] | None = None  # the counts when the second phase began

    @property
    def active(self) -> torch.optim.Optimizer:
        """The optimiser the next step belongs to."""
        return self.first if self.steps < self.switch_after else self.then

    @property
    def phases(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        """Both optimisers, in order (what the run's record reads: suite/krylov_record.py)."""
        return self.first, self.then

    # What the suite's closure asks of the optimiser that steps (suite/step_closure.py): the active phase's answers.
    @property
    def computes_gradients(self) -> bool:
        return getattr(self.active, "computes_gradients", False)

    @property
    def create_graph(self) -> bool:
        return getattr(self.active, "create_graph", False)

    @property
    def samples_curvature(self) -> bool:
        return getattr(self.active, "samples_curvature", False)

    @property
    def wants_residuals(self) -> bool:
        return getattr(self.active, "wants_residuals", False)

    @property
    def totals(self) -> dict[str, int] | None:
        """Cumulative counts where the phase that took the last step keeps its own, else None (the closure's
        tally stands). Read after a step: the phase is the one that stepped, not the one the next step belongs to."""
        if self.before_switch is None:  # the second phase has not stepped yet
            return getattr(self.first, "totals", None)
        own = getattr(self.then, "totals", None)
        return None if own is None else {key: self.before_switch[key] + int(own[key]) for key in self.before_switch}

    def step(self, closure=None):
        if self.steps == self.switch_after:  # the second phase's first step: what was counted so far
            tally = getattr(closure, "counts", None)
            self.before_switch = (tally if tally is not None else Counts()).as_dict()
        loss = self.active.step(closure)
        self.steps += 1
        return loss

    def state_dict(self) -> dict:
        return {"steps": self.steps, "before_switch": self.before_switch,
                "first": self.first.state_dict(), "then": self.then.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.steps, self.before_switch = state_dict["steps"], state_dict["before_switch"]
        self.first.load_state_dict(state_dict["first"])
        self.then.load_state_dict(state_dict["then"])
