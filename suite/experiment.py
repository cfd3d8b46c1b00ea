"""Building a run from its config: seed, then task, model and optimiser, always in that order.

The order matters: the model's initialisation draws from the global RNG after the task has been
built, so a script that rebuilds a run's starting point (the §5.4 analyses, benchmarks) must seed
and build exactly as :func:`suite.training.run` does. :func:`build_experiment` is that one place.
"""

import random
from dataclasses import dataclass

import numpy as np
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from .config import ConfigError, refuse_unknown_keys
from .optimisers import build_optimizer
from .optimisers.presentation import without_presentation


def build(node: DictConfig, **kwargs):
    """Instantiate a group's config; its ``name`` labels the run and is no constructor argument, nor is what an
    optimiser's config declares for reports (the benchmarks build optimisers here). A key the target does not take
    is a one-line ``ConfigError`` (``kwargs`` and an optimiser's ``params`` are the suite's to pass)."""
    spec = without_presentation(OmegaConf.to_container(node, resolve=True))
    refuse_unknown_keys(node._key() or "config", spec, supplied=("params", *kwargs))
    spec.pop("name", None)
    try:
        return instantiate(spec, **kwargs)
    except InstantiationException as error:  # Hydra wraps what the target raised
        if isinstance(error.__cause__, ConfigError):
            raise error.__cause__ from None
        raise


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Experiment:
    """The task, the model and (unless asked not to) the optimiser of one run, built from its config."""

    task: object
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer | None


def build_experiment(cfg: DictConfig, device: torch.device, dtype: torch.dtype | None = None,
                     with_optimizer: bool = True) -> Experiment:
    """Seed, then build the task, the model (on ``device`` in ``dtype``, default the run's) and the optimiser."""
    dtype = dtype or getattr(torch, cfg.dtype)
    seed_everything(cfg.seed)
    task = build(cfg.task, seed=cfg.seed, device=device, dtype=dtype)
    model = build(cfg.model).to(device=device, dtype=dtype)
    optimizer = None
    if with_optimizer:  # a hyperparameter it rejects, or a task it does not apply to: a ConfigError
        optimizer = build_optimizer(cfg.optim, model, task)
    return Experiment(task, model, optimizer)
