"""Mini-batch classification on tensors held in memory (thesis §5.2.4): MNIST-1D and CIFAR-10.

Cross-entropy loss (Eq. 5.4). Each epoch visits the training set once in a random order drawn
from (seed, epoch) — see :func:`tasks.base.epoch_generator`; the last batch may be smaller.
The reported ``train_loss`` is the mean of the step losses of the epoch (the loss each step
started from), the usual cheap estimate; evaluation measures ``test_loss`` and ``test_acc`` on
the whole test set in eval mode.
"""

import torch
import torch.nn.functional as F

from tasks.base import Task, epoch_generator, select


class ClassificationTask(Task):
    eval_batch_size = 1000

    def __init__(self, x_train, y_train, x_test, y_test, batch_size: int, seed: int, device):
        self.x_train, self.y_train = x_train.to(device), y_train.to(device)
        self.x_test, self.y_test = x_test.to(device), y_test.to(device)
        self.batch_size, self.seed = batch_size, seed

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Turn stored inputs into network inputs (CIFAR-10 stores bytes and normalises here)."""
        return x

    def batches(self, epoch: int):
        generator = epoch_generator(self.seed, epoch)
        order = torch.randperm(len(self.y_train), generator=generator).to(self.y_train.device)
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            yield self.prepare(self.x_train[index]), self.y_train[index]

    def loss(self, model, batch, indices=None, reduction="mean") -> torch.Tensor:
        x, y = select(batch, indices)
        return F.cross_entropy(model(x), y, reduction=reduction)

    @torch.no_grad()
    def evaluate(self, model) -> dict:
        total_loss, correct = 0.0, 0
        for start in range(0, len(self.y_test), self.eval_batch_size):
            x = self.prepare(self.x_test[start:start + self.eval_batch_size])
            y = self.y_test[start:start + self.eval_batch_size]
            logits = model(x)
            total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(dim=1) == y).sum())
        return {"test_loss": total_loss / len(self.y_test), "test_acc": correct / len(self.y_test)}
