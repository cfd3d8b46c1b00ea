"""What ``train.py`` needs from a task, and the per-epoch randomness every task shares.

A task is built as ``Task(seed=…, device=…, dtype=…, **its config)`` — the run seed (for batch
order and noise), where its tensors live and their floating-point type — and provides

- ``batches(epoch)`` — the batches of one epoch. A batch is whatever ``loss`` needs: a pair of
  tensors for data tasks, the noise sample ε for the stochastic Rosenbrock function. Every closure
  call of one optimiser step sees the same batch (docs/design.md §3).
- ``loss(model, batch)`` — the graph-connected scalar the optimiser minimises. A data task's loss
  also takes ``indices`` (a subset of the batch's examples, :func:`select`) and
  ``reduction="none"`` (one loss per example), for curvature on a sub-batch (kryball/closure.py). A
  least-squares task (``least_squares = True``) also takes ``reduction="residuals"``: the residuals
  whose squares make the loss (:func:`least_squares_loss`), for KryBall's Gauss–Newton curvature; a
  task whose loss is convex in the network's outputs (``outputs = True``: classification) takes
  ``reduction="outputs"``: them with their targets, ``kryball.Outputs``, for the generalised one.
- ``evaluate(model)`` — end-of-epoch metrics: any of ``train_loss`` (full-batch tasks give the
  exact objective at the current point, replacing the mean of the step losses), ``test_loss``,
  ``test_acc``, plus task extras (the coordinates of 2-D functions, for trajectory figures).
- ``converged(row)`` — the task's convergence criterion on one metrics row (docs/design.md §4).

An epoch of a full-batch task is one optimiser step (docs/design.md §4).
"""

import torch

from kryball import Residuals


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A generator that depends only on (seed, epoch).

    Batch order and noise samples come from it rather than from a running RNG, so a run resumed
    from a checkpoint draws exactly what the uninterrupted run would have drawn.
    """
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


class Task:
    """Defaults shared by the tasks: no test set, no convergence criterion, not a least-squares loss."""

    least_squares = False  # whether ``loss`` takes reduction="residuals" (:func:`least_squares_loss`)
    outputs = False  # whether ``loss`` takes reduction="outputs" (kryball.Outputs: generalised Gauss–Newton)

    def evaluate(self, model: torch.nn.Module) -> dict:
        return {}

    def converged(self, row: dict) -> bool:
        return False


def select(batch: tuple[torch.Tensor, ...], indices: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """The examples ``indices`` of a batch of tensors that share their first dimension (all of it for ``None``)."""
    if indices is None:
        return batch
    return tuple(t[indices.to(t.device)] for t in batch)


def least_squares_loss(residuals: torch.Tensor, reduction: str) -> torch.Tensor:
    """A least-squares loss from its residuals (the examples along the first dimension, a row of numbers each):
    ``"mean"`` the mean over the examples of each one's sum of squares, ``"none"`` those sums (one loss per example),
    ``"residuals"`` the residuals themselves (what ``kryball.Residuals`` wraps for Gauss–Newton curvature)."""
    if reduction == "residuals":
        return residuals
    losses = Residuals(residuals).per_example()
    if reduction == "none":
        return losses
    if reduction == "mean":
        return losses.mean()
    raise ValueError(f"reduction must be 'mean', 'none' or 'residuals', got {reduction!r}")
