"""Mini-batch classification on tensors held in memory (thesis §5.2.4): MNIST-1D and CIFAR-10.

Cross-entropy loss (Eq. 5.4). Each epoch visits the training set once in a random order drawn
from (seed, epoch) — see :func:`tasks.base.epoch_generator`. With ``drop_last`` the epoch's last,
incomplete batch is skipped (a different remainder each epoch, as the order changes); without it
the last batch may be smaller. The suite skips it by default: with MNIST-1D's validation split it
would be 16 of 3600 examples, and a trust-region step fitted to 16 examples undid KryBall's
progress every epoch (final test accuracy 0.43 instead of 0.66, docs/sweeps.md). The thesis's
setup (``validation_fraction = 0``, the whole 4000 training samples) keeps it.
The reported ``train_loss`` is the mean of the step losses of the epoch (the loss each step
started from), the usual cheap estimate; evaluation measures ``test_loss`` and ``test_acc`` on
the whole test set, and ``val_loss`` and ``val_acc`` on the validation split, in eval mode.

The validation split (docs/sweeps.md, "Validation splits") is carved out of the training set:
``validation_fraction`` of it, drawn by ``split_seed`` and never by the run seed, so every run of
every seed trains on the same samples and is selected on the same held-out ones. Sweeps select
on it; tables report test. ``validation_fraction = 0`` is the thesis's setup: the whole training
set, untouched (same samples in the same order, so runs are bit-for-bit those made before the
split existed) and no validation metrics.
"""

import torch
import torch.nn.functional as F

from kryball import Outputs
from suite.errors import ConfigError
from tasks.base import Task, epoch_generator, select


def split_validation(x: torch.Tensor, y: torch.Tensor, fraction: float, split_seed: int):
    """``(x_train, y_train, x_val, y_val)``: ``round(fraction · n)`` samples drawn by ``split_seed``
    form the validation set, the rest stay in their original order; no split when ``fraction`` is 0."""
    if not 0 <= fraction < 1:
        raise ConfigError("task.validation_fraction", f"must be in [0, 1), got {fraction!r}")
    n_val = round(fraction * len(y))
    if n_val == 0:
        if fraction > 0:
            raise ConfigError("task.validation_fraction",
                              f"{fraction} of {len(y)} training samples is not one sample")
        return x, y, None, None
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(split_seed))
    val, train = order[:n_val], order[n_val:].sort().values
    return x[train], y[train], x[val], y[val]


class ClassificationTask(Task):
    eval_batch_size = 1000

    def __init__(self, x_train, y_train, x_test, y_test, batch_size: int, seed: int, device,
                 validation_fraction: float = 0.0, split_seed: int = 0, drop_last: bool = False):
        x_train, y_train, x_val, y_val = split_validation(x_train, y_train, validation_fraction, split_seed)
        self.x_train, self.y_train = x_train.to(device), y_train.to(device)
        self.x_test, self.y_test = x_test.to(device), y_test.to(device)
        self.x_val = None if x_val is None else x_val.to(device)
        self.y_val = None if y_val is None else y_val.to(device)
        self.batch_size, self.seed, self.drop_last = batch_size, seed, drop_last

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Turn stored inputs into network inputs (CIFAR-10 stores bytes and normalises here)."""
        return x

    def batches(self, epoch: int):
        generator = epoch_generator(self.seed, epoch)
        order = torch.randperm(len(self.y_train), generator=generator).to(self.y_train.device)
        # A training set smaller than one batch is one (whole) batch, dropped or not.
        full_batches = len(order) - len(order) % self.batch_size
        end = full_batches if self.drop_last and full_batches else len(order)
        for start in range(0, end, self.batch_size):
            index = order[start:start + self.batch_size]
            yield self.prepare(self.x_train[index]), self.y_train[index]

    outputs = True  # loss(..., reduction="outputs"): tasks/base.py

    def loss(self, model, batch, indices=None, reduction="mean") -> torch.Tensor | Outputs:
        x, y = select(batch, indices)
        if reduction == "outputs":  # the logits with their labels, for generalised Gauss–Newton curvature
            return Outputs(model(x), y, "cross_entropy")
        return F.cross_entropy(model(x), y, reduction=reduction)

    @torch.no_grad()
    def measure(self, model, x_all: torch.Tensor, y_all: torch.Tensor) -> tuple[float, float]:
        """Mean cross-entropy and accuracy of ``model`` on a whole held-out set."""
        total_loss, correct = 0.0, 0
        for start in range(0, len(y_all), self.eval_batch_size):
            x = self.prepare(x_all[start:start + self.eval_batch_size])
            y = y_all[start:start + self.eval_batch_size]
            logits = model(x)
            total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(dim=1) == y).sum())
        return total_loss / len(y_all), correct / len(y_all)

    def evaluate(self, model) -> dict:
        test_loss, test_acc = self.measure(model, self.x_test, self.y_test)
        row = {"test_loss": test_loss, "test_acc": test_acc}
        if self.y_val is not None:
            row["val_loss"], row["val_acc"] = self.measure(model, self.x_val, self.y_val)
        return row
