"""Training one run on several processes, every optimiser alike (docs/scaling.md, "The suite under torchrun").

Every process builds the same run (seed → task → model → optimiser, :mod:`suite.experiment`) and draws the same
batches, so ``task.batch_size`` is the batch of the whole run, whatever the number of processes. Each step, each
process trains on its shard of the batch (:func:`shard_of`):

- KryBall and KryBall+ step as :class:`kryball.distributed.DistributedKryBall` (the loss, the gradient, every
  Hessian-vector product and the trial loss summed across processes, weighted by shard size);
- first-order optimisers train the model wrapped in ``DistributedDataParallel``: DDP averages the gradients, and
  each shard's loss is weighted by ``world_size × shard / batch`` so that the average is the batch's gradient
  when shards differ in size; the closure returns the batch's loss, so that an optimiser that decides on loss
  values (L-BFGS's line search) decides the same on every process;
- optimisers that differentiate ``p.grad`` once more (AdaHessian, SophiaH) or take their own gradients
  (trust-krylov) cannot be averaged by DDP and are refused with one line.

A batch that is not a tuple of tensors sharing their first dimension (Rosenbrock's noise sample ε) is evaluated
whole by every process: there is nothing to share out, and the result is the same. After each epoch the
floating-point buffers (BatchNorm's running statistics, which each process updates from its own shard) are
averaged, process 0 evaluates the model and shares the metrics, so every process takes the same decisions
(convergence, divergence) from the same numbers. With one process every method here is the plain path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from kryball import KryBall
from kryball.distributed import DistributedKryBall

from .config import ConfigError
from .processes import Processes
from .step_closure import Counts, make_closure, without_examples_quietly


class Shard(NamedTuple):
    """This process's part of a batch: ``size`` of the batch's ``total`` examples (a batch that every process
    evaluates whole counts 1 of ``world_size``)."""

    batch: object
    size: int
    total: int


def shard_of(batch, processes: Processes) -> Shard:
    """Contiguous shards of a tuple of tensors along their first dimension, sizes differing by one at most."""
    if not _is_shardable(batch):
        return Shard(batch, 1, processes.world_size)
    total = len(batch[0])
    if total < processes.world_size:
        raise ValueError(f"a batch of {total} examples cannot be shared among {processes.world_size} processes: "
                         "each needs one at least (fewer processes, or a larger task.batch_size)")
    parts = [t.tensor_split(processes.world_size)[processes.rank] for t in batch]
    return Shard(type(batch)(parts), len(parts[0]), total)


def _is_shardable(batch) -> bool:
    return (isinstance(batch, (tuple, list)) and len(batch) > 0
            and all(isinstance(t, torch.Tensor) and t.ndim >= 1 and len(t) == len(batch[0]) for t in batch))


class DataParallel:
    """The run's model and optimiser as this process trains them, and the exchanges an epoch needs.

    ``model`` is the module itself (what is evaluated and saved); ``optimizer`` is what steps (for KryBall a
    :class:`DistributedKryBall` on the same parameters, with the same options).
    """

    def __init__(self, processes: Processes, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 name: str, least_squares: bool = False, outputs: bool = False):
        self.processes, self.model, self.optimizer = processes, model, optimizer
        self.least_squares = least_squares  # the task's loss takes reduction="residuals" (tasks/base.py)
        self.outputs = outputs  # … or reduction="outputs" (kryball.Outputs)
        self._trained = model  # what the closure calls: the module, or its DDP wrapper
        if not processes.parallel:
            return
        if isinstance(optimizer, KryBall):
            self.optimizer = DistributedKryBall(optimizer.param_groups, model=optimizer.model, **optimizer.defaults)
        elif getattr(optimizer, "create_graph", False):
            raise ConfigError("optim", f"{name} does not run data-parallel: its Hessian-vector products "
                                       "differentiate p.grad, which DDP's averaging leaves without a graph; "
                                       "run it in one process")
        elif getattr(optimizer, "computes_gradients", False):
            raise ConfigError("optim", f"{name} does not run data-parallel: it takes its own gradients, which DDP "
                                       "does not average; run it in one process")
        else:
            device = next(model.parameters()).device
            self._trained = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)

    @property
    def is_main(self) -> bool:
        return self.processes.is_main

    def step(self, loss: Callable, batch, counts: Counts) -> float:
        """One optimiser step on this process's shard of ``batch``; returns the loss of the whole batch at the
        point the step started from."""
        if not self.processes.parallel:
            closure = make_closure(self.model, functools.partial(loss, batch=batch), self.optimizer, counts,
                                   self.least_squares, self.outputs)
            with without_examples_quietly(loss, self.optimizer):
                return float(self.optimizer.step(closure).detach())
        shard, size, total = shard_of(batch, self.processes)
        if isinstance(self.optimizer, DistributedKryBall):
            closure = make_closure(self.model, functools.partial(loss, batch=shard), self.optimizer, counts)
            with without_examples_quietly(loss, self.optimizer):
                return float(self.optimizer.step(closure, shard_size=size).detach())
        weight = self.processes.world_size * size / total  # 1.0 exactly for equal shards

        def weighted(model):
            return weight * loss(model, batch=shard)

        closure = make_closure(self._trained, weighted, self.optimizer, counts)
        return float(self.optimizer.step(_batch_loss(closure, self.processes.world_size)))

    def end_epoch(self, evaluate: Callable[[torch.nn.Module], dict]) -> dict:
        """Make the model the same on every process (its floating-point buffers averaged), evaluate it on process
        0 and give every process those metrics."""
        if self.processes.parallel:
            with torch.no_grad():
                for buffer in self.model.buffers():
                    if buffer.is_floating_point():
                        dist.all_reduce(buffer)
                        buffer /= self.processes.world_size
        return self.from_main(lambda: evaluate(self.model))

    def from_main(self, fn: Callable[[], object]):
        """``fn()`` computed on process 0 alone and given to every process."""
        if not self.processes.parallel:
            return fn()
        shared = [fn() if self.is_main else None]
        dist.broadcast_object_list(shared, src=0)
        return shared[0]


def _batch_loss(closure: Callable[[], torch.Tensor], world_size: int) -> Callable[[], torch.Tensor]:
    """The closure with the batch's loss as its value: the processes' weighted shard losses summed over
    ``world_size`` (DDP has averaged the gradients in ``backward``)."""

    def batch_closure() -> torch.Tensor:
        value = closure().detach().clone()
        dist.all_reduce(value)
        return value / world_size

    return batch_closure
