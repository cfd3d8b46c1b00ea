"""The momentum direction z of the search subspace (thesis Algorithm 4, lines 2 and 20).

The thesis folds each gradient in, ``z ← βz + g``. ``momentum_from="steps"`` (beyond the
thesis) folds in the steps θ moved by instead, ``z ← βz + p`` (nothing on a step that did
not move θ; with β = 0, z is the previous step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .options import Options

# What ``momentum_from`` folds into z, by name, from this step's gradient and the step taken (None: none was).
MOMENTUM_SOURCES = {
    "gradients": lambda g, taken: g,
    "steps": lambda g, taken: taken,
}


def update_momentum(state: dict, options: Options, g: torch.Tensor, taken: torch.Tensor | None) -> torch.Tensor:
    """``z ← βz + source`` in place in ``state``; returns z."""
    source = MOMENTUM_SOURCES[options.momentum_from](g, taken)
    z = state["momentum"].mul_(options.momentum)
    if source is not None:
        z.add_(source)
    return z
