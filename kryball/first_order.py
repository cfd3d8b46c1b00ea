"""Adam's moment estimates on KryBall's flat parameter vector (issue 7's extensions).

Adam (Kingma & Ba, 2015) keeps ``m ← β₁m + (1−β₁)g`` and ``v ← β₂v + (1−β₂)g²`` and,
with the bias corrections ``m̂ = m/(1−β₁ᵗ)``, ``v̂ = v/(1−β₂ᵗ)``, steps along
``−m̂/(√v̂ + ε)``. KryBall's options use three things from it: that direction as an
extra search direction, ``D = √v̂ + ε`` as the diagonal preconditioner of the Krylov
space (thesis §3.2.2), and ``−lr·m̂/(√v̂ + ε)`` as the first-order step of the
fallback and hybrid options (thesis §5.5.4, §6.2.1). The estimates live in
KryBall's state (``adam_m``, ``adam_v``, ``adam_t``), so ``state_dict`` carries them.
"""

import torch


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
