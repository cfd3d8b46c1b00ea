"""A run's model at its start and, where it was checkpointed, at its end — for the analyses of §5.4
(Fig. 5.6, eqs 5.5–5.12) and the ablation's measured cost weights.

The start point is the run's initialisation, rebuilt by ``suite.experiment.build_experiment`` (train.py's own
seeding and builders, in suite.training.run's order); the end point is the run's last checkpoint (its
setting runs with ``checkpoint=true``). Both are measured on the first mini-batch of epoch 1.
Nothing is trained here.
"""
from __future__ import annotations

import json
import pathlib
from collections.abc import Callable

import torch
from omegaconf import DictConfig, OmegaConf

from suite.checkpoint import NAME, load_checkpoint
from suite.experiment import build_experiment
from suite.run_record import SUMMARY


def run_config(run_dir: pathlib.Path) -> DictConfig:
    """The resolved config the run recorded in its summary.json."""
    return OmegaConf.create(json.loads((pathlib.Path(run_dir) / SUMMARY).read_text())["config"])


def has_checkpoint(run_dir: pathlib.Path) -> bool:
    return (pathlib.Path(run_dir) / NAME).is_file()


def starting_point(cfg: DictConfig, dtype: torch.dtype | None = None) -> tuple[torch.nn.Module, Callable]:
    """The run's model as it was built (on the CPU; ``dtype`` default the run's) and ``loss()``,
    the task's loss of that model on the first mini-batch of epoch 1."""
    experiment = build_experiment(cfg, torch.device("cpu"), dtype, with_optimizer=False)
    task, model = experiment.task, experiment.model
    batch = next(iter(task.batches(1)))
    return model, lambda: task.loss(model, batch)


def start_and_end(run_dir: pathlib.Path, measure: Callable, dtype: torch.dtype | None = None) -> dict:
    """``{"start": measure(model, loss), "end": measure(model, loss)}`` for one run with a checkpoint.

    ``loss()`` is the task's loss of ``model`` on the fixed batch, in evaluation mode so that no
    BatchNorm statistics change while measuring. ``dtype`` (default: the run's) lets an analysis
    work in float64 where round-off in the run's float32 would show as error.
    """
    model, loss = starting_point(run_config(run_dir), dtype)
    model.eval()
    start = measure(model, loss)
    model.load_state_dict(load_checkpoint(pathlib.Path(run_dir) / NAME, torch.device("cpu"))["model"])
    return {"start": start, "end": measure(model, loss)}
