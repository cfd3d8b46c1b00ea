"""First-order steps inside KryBall (beyond the thesis): hybrid phases and the fallback after a rejection.

Thesis §6.2.1 proposes hybrids of KryBall with a first-order optimiser: KryBall until
the quadratic model stops being trustworthy, then first-order steps (``switch_grad_ratio``:
once ‖g‖ has decayed by that factor, the sign §5.5.1 names), or KryBall steps interleaved
with first-order ones (``interleave``). Thesis §5.5.4 proposes a first-order step where
the trust region rejected its step (``fallback``). The first-order optimiser itself is
:mod:`kryball.first_order`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import torch

from .first_order import first_order_step
from .step_info import Status
from .trust_region_loop import TrialPoints, TrustRegionOutcome

if TYPE_CHECKING:
    from .options import Options


def initialise(state: dict) -> None:
    """Start in KryBall's phase; ``setdefault`` also upgrades a state saved before this key existed."""
    state.setdefault("switched", False)


def in_first_order_phase(state: dict, options: Options) -> bool:
    """Whether this step is a first-order one: after the switch, or between interleaved KryBall steps."""
    return state["switched"] or options.interleave is not None and state["step"] % options.interleave != 0


def switches_now(state: dict, options: Options, g: torch.Tensor) -> bool:
    """Whether ‖g‖ has just fallen below ``switch_grad_ratio`` × the first step's ‖g‖ (then first-order steps only)."""
    grad_norm = g.norm().item()
    state.setdefault("initial_grad_norm", grad_norm)
    if options.switch_grad_ratio is not None and grad_norm < options.switch_grad_ratio * state["initial_grad_norm"]:
        state["switched"] = True
        return True
    return False


@torch.no_grad()
def fallback_step(outcome: TrustRegionOutcome, g: torch.Tensor, state: dict, options: Options,
                  trial: TrialPoints) -> TrustRegionOutcome:
    """After a rejection, move θ by a first-order step instead of not at all, no longer than the (shrunk) radius."""
    p = first_order_step(g, state, options)
    p *= min(1.0, outcome.info.radius / max(p.norm().item(), torch.finfo(p.dtype).tiny))
    trial.move_to(p)
    info = dataclasses.replace(outcome.info, status=Status.FALLBACK, step_norm=p.norm().item())
    return TrustRegionOutcome(info, tried=p, taken=p)
