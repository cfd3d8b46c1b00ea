"""When to rebuild the Krylov basis and saddle-free direction (thesis Algorithm 4, line 5).

The thesis refreshes on a fixed schedule, at every step t with t mod r_refresh = 0,
counted here as the trust-region steps since the last refresh (a hybrid phase's
first-order step does not count, nor does a step that changed nothing, so a failed
refresh is retried). ``adaptive_refresh`` (beyond the thesis; §5.5.3 and §6.2.5
suggest an adaptive r_refresh) also refreshes early, right after a step on an old
basis whose model was poor by the radius rule's own test, ρ < ``SHRINK_BELOW``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .trust_region import SHRINK_BELOW

if TYPE_CHECKING:
    from .options import Options


def initialise(state: dict, options: Options) -> None:
    """Start the schedule; ``setdefault`` also upgrades a state saved before these keys existed (t mod r_refresh)."""
    state.setdefault("since_refresh", state["step"] % options.refresh or options.refresh)
    state.setdefault("poor_model", False)


def is_due(state: dict, options: Options) -> bool:
    """Whether this step builds a new Krylov basis: on schedule, or early after a poor model (adaptive)."""
    return state["since_refresh"] >= options.refresh or options.adaptive_refresh and state["poor_model"]


def record(state: dict, refreshed: bool, rho: float | None) -> None:
    """Count the step and remember whether the model was poor on an old basis (a fresh one would be the same)."""
    state["since_refresh"] = 1 if refreshed else state["since_refresh"] + 1
    state["poor_model"] = not refreshed and rho is not None and rho < SHRINK_BELOW
