"""Fig. 5.6 (§5.4): slices of the MNIST-1D MLP's loss landscape at the start and the end of SGD training.

The thesis samples the loss along the SGD direction by "an exhaustive line search over
λ ∈ [−2, 2]" at the start and the end of training. Here the direction is the normalised negative
gradient −g/‖g‖ on the first mini-batch of epoch 1 (the thesis does not say how the direction is
scaled; a unit direction makes the two slices comparable), sampled with
``kryball.analysis.sample_line`` at the run's initialisation and its last checkpoint
(``checkpointed.start_and_end``; the landscape setting runs with ``checkpoint=true``).
"""
from __future__ import annotations

import pathlib

import numpy as np
import torch

from kryball.parameters import flatten
from kryball.analysis import sample_line
from suite.reproduction.checkpointed import start_and_end

LAMBDAS = torch.linspace(-2.0, 2.0, 41, dtype=torch.float64)  # the thesis's λ range


def _slice(model: torch.nn.Module, loss) -> np.ndarray:
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss(), params)
    direction = -flatten(grads)
    return sample_line(loss, params, direction / direction.norm(), LAMBDAS).numpy()


def slices(run_dir: pathlib.Path) -> dict[str, np.ndarray]:
    """``{"lambda": grid, "start": losses, "end": losses}`` for one run with a checkpoint."""
    return {"lambda": LAMBDAS.numpy(), **start_and_end(run_dir, _slice)}
