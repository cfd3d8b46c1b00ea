"""Fig. 5.6 (§5.4): slices of the MNIST-1D MLP's loss landscape at the start and the end of SGD training.

The thesis samples the loss along the SGD direction by "an exhaustive line search over
λ ∈ [−2, 2]" at the start and the end of training. Here the direction is the normalised negative
gradient −g/‖g‖ on the first mini-batch of epoch 1 (the thesis does not say how the direction is
scaled; a unit direction makes the two slices comparable), sampled with
``kryball.landscape.sample_line``. The start point is the run's initialisation, rebuilt with
train.py's own seeding and builders in train.run's order; the end point is the run's last
checkpoint (the landscape setting runs with ``checkpoint=true``). Nothing is trained here.
"""
from __future__ import annotations

import json
import pathlib

import numpy as np
import torch
from omegaconf import OmegaConf

from kryball.flat import flatten
from kryball.landscape import sample_line
from tasks.runtime.checkpoint import NAME, load_checkpoint
from train import build, seed_everything

LAMBDAS = torch.linspace(-2.0, 2.0, 41, dtype=torch.float64)  # the thesis's λ range


def _slice(model: torch.nn.Module, loss) -> np.ndarray:
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss(), params)
    direction = -flatten(grads)
    return sample_line(loss, params, direction / direction.norm(), LAMBDAS).numpy()


def slices(run_dir: pathlib.Path) -> dict[str, np.ndarray]:
    """``{"lambda": grid, "start": losses, "end": losses}`` for one run with a checkpoint."""
    cfg = OmegaConf.create(json.loads((run_dir / "summary.json").read_text())["config"])
    device, dtype = torch.device("cpu"), getattr(torch, cfg.dtype)
    seed_everything(cfg.seed)  # as train.run does before it builds the task and the model
    task = build(cfg.task, seed=cfg.seed, device=device, dtype=dtype)
    model = build(cfg.model).to(device=device, dtype=dtype)
    batch = next(iter(task.batches(1)))
    model.eval()  # evaluation only: no BatchNorm statistics are updated while sampling

    def loss():
        return task.loss(model, batch)

    start = _slice(model, loss)
    model.load_state_dict(load_checkpoint(run_dir / NAME, device)["model"])
    return {"lambda": LAMBDAS.numpy(), "start": start, "end": _slice(model, loss)}
