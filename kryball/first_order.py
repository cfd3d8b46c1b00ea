"""First-order steps and Adam's moment estimates on KryBall's flat parameter vector (beyond the thesis).

Adam (Kingma & Ba, 2015) keeps ``m ← β₁m + (1−β₁)g`` and ``v ← β₂v + (1−β₂)g²`` and,
with the bias corrections ``m̂ = m/(1−β₁ᵗ)``, ``v̂ = v/(1−β₂ᵗ)``, steps along
``−m̂/(√v̂ + ε)``. KryBall's options use three things from it: that direction as an
extra search direction (thesis §6.2.5), ``D = √v̂ + ε`` as the diagonal preconditioner
of the Krylov space (thesis §3.2.2), and ``−lr·m̂/(√v̂ + ε)`` as the first-order step of
the fallback and hybrid options (thesis §5.5.4, §6.2.1), beside SGD's ``−lr·g``. The
estimates live in KryBall's state (``adam_m``, ``adam_v``, ``adam_t``), so
``state_dict`` carries them.

Without a learning rate (``first_order_lr=None``) a first-order step takes its length
from KryBall's trust region instead: it is as long as the current radius Δ, along the
method's direction (:func:`first_order_step`). It is taken untested, as a first-order
step with a learning rate is: docs/performance.md ("Interleaved first-order steps")
measures why testing it by ρ was dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .options import Options


def update_moments(state: dict, g: torch.Tensor, betas: tuple[float, float]) -> None:
    """Fold the gradient ``g`` into the first and second moment estimates in ``state``."""
    if "adam_m" not in state:
        state.update(adam_m=torch.zeros_like(g), adam_v=torch.zeros_like(g), adam_t=0)
    beta1, beta2 = betas
    state["adam_m"].mul_(beta1).add_(g, alpha=1 - beta1)
    state["adam_v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
    state["adam_t"] += 1


def denominator(state: dict, betas: tuple[float, float], eps: float) -> torch.Tensor:
    """``√v̂ + ε``: Adam's per-coordinate scale (positive everywhere)."""
    bias_correction = 1 - betas[1] ** state["adam_t"]
    return (state["adam_v"] / bias_correction).sqrt_().add_(eps)


def direction(state: dict, betas: tuple[float, float], eps: float) -> torch.Tensor:
    """``m̂/(√v̂ + ε)``: Adam's (ascent) direction; its step is ``−lr`` times it."""
    bias_correction = 1 - betas[0] ** state["adam_t"]
    return state["adam_m"] / bias_correction / denominator(state, betas, eps)


def needs_moments(options: Options) -> bool:
    """Whether an option reads Adam's moment estimates (they are kept only then)."""
    return "adam" in options.directions or options.preconditioner == "adam" or options.first_order == "adam"


def track_moments(state: dict, g: torch.Tensor, options: Options) -> None:
    """Fold this step's gradient into Adam's moments, if an option reads them."""
    if needs_moments(options):
        update_moments(state, g, options.adam_betas)


# The first-order optimisers of ``first_order``, by name: each gives the (ascent) direction its step is −lr times.
FIRST_ORDER_METHODS = {
    "sgd": lambda g, state, options: g,
    "adam": lambda g, state, options: direction(state, options.adam_betas, options.adam_eps),
}


def first_order_step(g: torch.Tensor, state: dict, options: Options) -> torch.Tensor:
    """The configured first-order optimiser's step from the gradient ``g``: −lr·d, or without a learning rate
    (``first_order_lr=None``) −Δ·d/‖d‖, a step as long as the trust-region radius Δ."""
    d = FIRST_ORDER_METHODS[options.first_order](g, state, options)
    if options.first_order_lr is None:
        return d.mul(-state["radius"] / max(d.norm().item(), torch.finfo(d.dtype).tiny))
    return -options.first_order_lr * d
