"""Curvature on a sub-batch: the ``curvature_batch`` option (beyond the thesis; docs/performance.md).

Hessian-free optimisation (Martens 2010) and subsampled Newton methods (Byrd et al. 2011)
take curvature products on a mini-batch much smaller than the gradient's: a
Hessian-vector product costs a double backward over the graph it differentiates, so
its cost scales with the examples that graph holds, while the curvature estimate
needs far fewer examples than the gradient to be useful. With ``curvature_batch``
set, KryBall takes the loss, the gradient and the trial point on the whole batch, and
every Hessian-vector product of the step (Lanczos and the subspace's curvature) on a
subset of it, drawn afresh each step.

The saving needs a forward pass of its own on the subset: selecting some per-example
losses after the whole batch's forward pass would leave the whole batch's tensors in
the graph that every product differentiates, and each product would cost what it
costs on the whole batch (measured: docs/performance.md). Hence the closure contract:

* ``closure()`` returns the loss of the batch: a scalar, or **per-example losses** — a
  1-D tensor with one loss per example, whose mean KryBall minimises;
* ``closure(indices)`` — a closure that accepts an argument — returns the losses of
  the examples ``indices`` only (a 1-D ``torch.long`` tensor of distinct positions in
  the batch, on the CPU), per example or their mean, with a graph.

KryBall learns the batch size from the per-example losses (:class:`kryball.closure.Closure`). A closure that returns a
scalar has no examples to draw from (a function, or a batch taken as a whole): its
curvature is taken on the whole batch, as without the option. One that returns
per-example losses but takes no argument cannot evaluate a subset: it also gets
whole-batch curvature, with a warning.

The subset of draw t comes from a ``torch.Generator`` seeded with (seed, t) alone —
as the suite draws each epoch's batch order (``tasks.base.epoch_generator``) — and
the seed and the number of draws live in the optimiser's state as plain integers
(``load_state_dict`` would cast a generator's byte state to the parameters' dtype),
so ``state_dict()`` resumes the draws exactly. The seed is taken from PyTorch's
global generator at the first draw (as ``torch.utils.data.DataLoader`` seeds its
workers), so ``torch.manual_seed`` makes a run repeatable.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Callable

import torch

if TYPE_CHECKING:
    from .options import Options


def subset_size(batch_size: int, curvature_batch: int | float | None) -> int:
    """How many examples the curvature sees: an ``int`` is a count, a ``float`` a fraction (at least one
    example), ``None`` the whole batch; never more than the batch."""
    if curvature_batch is None:
        return batch_size
    if isinstance(curvature_batch, float):
        return min(batch_size, max(1, math.ceil(curvature_batch * batch_size)))
    return min(batch_size, curvature_batch)


def curvature_indices(batch_size: int | None, takes_indices: bool, state: dict,
                      options: Options) -> torch.Tensor | None:
    """This step's curvature examples among the ``batch_size`` of the batch (``None``: the closure returns a
    scalar), a fresh draw without replacement; ``None``: use the whole batch. ``takes_indices``: whether the
    closure can evaluate a subset."""
    if options.curvature_batch is None or batch_size is None:
        return None
    size = subset_size(batch_size, options.curvature_batch)
    if size >= batch_size:
        return None
    if not takes_indices:
        warnings.warn("KryBall: curvature_batch is set and the closure returns per-example losses, but it takes "
                      "no argument, so it cannot evaluate a sub-batch: the curvature uses the whole batch. "
                      "Give it an optional argument, closure(indices=None), that selects those examples "
                      "(kryball/sub_batch.py).", stacklevel=6)  # the caller of KryBall.step
        return None
    start_sampler(state)
    indices = torch.randperm(batch_size, generator=draw_generator(state))[:size]
    state["curvature_draws"] += 1
    return indices


def start_sampler(state: dict, agree: Callable[[int], int] = int) -> None:
    """Seed the sampler at its first draw, from PyTorch's global generator; ``agree`` turns the seed drawn into the
    one to use (data-parallel KryBall: the first process's, so that every process draws the same examples)."""
    if "curvature_seed" not in state:
        state.update(curvature_seed=agree(int(torch.randint(2**31, ()).item())), curvature_draws=0)


def draw_generator(state: dict) -> torch.Generator:
    """The generator of the next draw: it depends on the sampler's seed and the number of draws so far alone."""
    return torch.Generator().manual_seed(state["curvature_seed"] * 1_000_003 + state["curvature_draws"])
