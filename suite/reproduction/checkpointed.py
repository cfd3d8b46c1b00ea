"""A checkpointed run's model at its start and at its end, for the analyses of §5.4 (Fig. 5.6, eqs 5.5–5.12).

The start point is the run's initialisation, rebuilt with train.py's own seeding and builders in
suite.training.run's order; the end point is the run's last checkpoint (its setting runs with
``checkpoint=true``). Both are measured on the first mini-batch of epoch 1, in evaluation mode so
that no BatchNorm statistics change while measuring. Nothing is trained here.
"""
from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

import torch
from omegaconf import DictConfig, OmegaConf

from suite.checkpoint import NAME, load_checkpoint
from suite.experiment import build_experiment


def run_config(run_dir: pathlib.Path) -> DictConfig:
    """The resolved config the run recorded in its summary.json."""
    return OmegaConf.create(json.loads((pathlib.Path(run_dir) / "summary.json").read_text())["config"])


def has_checkpoint(run_dir: pathlib.Path) -> bool:
    return (pathlib.Path(run_dir) / NAME).is_file()


def start_and_end(run_dir: pathlib.Path, measure: Callable, dtype: torch.dtype | None = None) -> dict:
    """``{"start": measure(model, loss), "end": measure(model, loss)}`` for one run with a checkpoint.

    ``loss()`` is the task's loss of ``model`` on the fixed batch. ``dtype`` (default: the run's)
    lets an analysis work in float64 where round-off in the run's float32 would show as error.
    """
    cfg, device = run_config(run_dir), torch.device("cpu")
    dtype = dtype or getattr(torch, cfg.dtype)
    experiment = build_experiment(cfg, device, dtype, with_optimizer=False)  # as the run built them
    task, model = experiment.task, experiment.model
    batch = next(iter(task.batches(1)))
    model.eval()

    def loss():
        return task.loss(model, batch)

    start = measure(model, loss)
    model.load_state_dict(load_checkpoint(pathlib.Path(run_dir) / NAME, device)["model"])
    return {"start": start, "end": measure(model, loss)}
