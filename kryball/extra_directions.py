"""Extra search directions, the ``directions`` option (beyond the thesis).

Thesis Algorithm 4 searches span{g, z, d} on refresh steps and span{g, z, Q} between
them (lines 8–12). ``directions`` adds named vectors to both, each at the cost of one
more Hessian-vector product: ``"adam"``, Adam's m̂/(√v̂ + ε) (motivated by thesis
§6.2.5), and ``"previous_step"``, the last step θ moved by. Adding one is one entry of
``EXTRA_DIRECTIONS`` (and, if it keeps state, of :func:`initialise`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from . import first_order

if TYPE_CHECKING:
    from .options import Options

# Each named direction as a function of the optimiser's state and options, in the state this step's gradient is in.
EXTRA_DIRECTIONS = {
    "adam": lambda state, options: first_order.direction(state, options.adam_betas, options.adam_eps),
    "previous_step": lambda state, options: state["previous_step"],
}


def extra_directions(state: dict, options: Options) -> list[torch.Tensor]:
    """The vectors named by ``directions``, in the order named."""
    return [EXTRA_DIRECTIONS[name](state, options) for name in options.directions]


def initialise(state: dict, options: Options, like: torch.Tensor) -> None:
    """Start the previous step at zero (θ has not moved yet) when it is a search direction."""
    if "previous_step" in options.directions:
        state.setdefault("previous_step", torch.zeros_like(like))


def remember_step(state: dict, taken: torch.Tensor | None) -> None:
    """Keep the step θ moved by as the next previous step (a step that did not move θ changes nothing)."""
    if taken is not None and "previous_step" in state:
        state["previous_step"] = taken
