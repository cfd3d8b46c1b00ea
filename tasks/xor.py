"""XOR classification (thesis §5.2.3): the four points of {0, 1}², label x₁ XOR x₂, BCE loss.

Readings of the thesis:

- The data set is the whole input space, so there is no separate test set: ``test_loss`` and
  ``test_acc`` are measured on the same four points (after the step, in eval mode), and that is
  the accuracy the convergence criterion reads.
- No validation split either: with all four points of the input space in training, there is
  nothing to hold out, and a held-out point would make XOR unlearnable from the rest. The
  sweeps rank XOR by its convergence criterion (epochs to convergence, docs/sweeps.md), so
  there is no held-out score to select on; ``val_loss`` and ``val_acc`` stay empty.
- "completely minimise the loss function (reach 0 loss)" cannot happen with a finite logit; we
  read it as BCE ≤ 1e-3 (``tolerance``), with accuracy 1.0 (docs/design.md §4).
- The network outputs one logit; BCE is computed from logits (``binary_cross_entropy_with_logits``),
  the numerically stable form of Eq. 5.3.
- Full batch: an epoch is one step.
"""

import torch
import torch.nn.functional as F

from tasks.base import Task


class XOR(Task):
    def __init__(self, seed: int, device, dtype, tolerance: float = 1e-3):
        self.x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], device=device, dtype=dtype)
        self.y = torch.tensor([[0], [1], [1], [0]], device=device, dtype=dtype)
        self.tolerance = tolerance

    def batches(self, epoch: int):
        yield self.x, self.y

    def loss(self, model, batch) -> torch.Tensor:
        x, y = batch
        return F.binary_cross_entropy_with_logits(model(x), y)

    @torch.no_grad()
    def evaluate(self, model) -> dict:
        logits = model(self.x)
        accuracy = ((logits > 0).to(self.y.dtype) == self.y).float().mean()
        loss = float(self.loss(model, (self.x, self.y)))
        # Full batch: the training loss is the objective at the point reached (tasks/base.py),
        # the same number the convergence test reads — not the loss before the last step.
        return {"train_loss": loss, "test_loss": loss, "test_acc": float(accuracy)}

    def converged(self, row: dict) -> bool:
        return row["test_acc"] == 1.0 and row["test_loss"] <= self.tolerance
