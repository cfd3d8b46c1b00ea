"""KryBall+ as the optimiser of a PyTorch Lightning module, with Lightning's automatic optimisation.

    python examples/lightning_automatic.py [--epochs N]

``configure_optimizers`` returns a KryBall (no learning rate, no scheduler) and gives it the module, ``model=self``,
so that buffers in training mode advance once per step although KryBall evaluates the closure several times.
Lightning's closure runs ``training_step``, calls ``backward`` and returns the loss detached; KryBall takes the
loss whose backward was called. That closure takes no arguments, so ``training_step`` calls
``kryball.curvature_examples`` on its batch: for the evaluation on which KryBall takes its curvature
(``curvature_batch=128``) it gives those examples, otherwise the batch unchanged.
"""

import argparse
import logging

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import kryball


class Classifier(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.Tanh(), torch.nn.Linear(64, 4))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = kryball.curvature_examples(*batch)  # the whole batch, or the examples KryBall's curvature wants
        return F.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return kryball.KryBall(self.parameters(), model=self, krylov_dim=3, curvature_batch=128,
                               directions=("adam", "previous_step"), curvature="auto")  # KryBall+


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(1)  # a model this small trains fastest on one CPU thread
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banner about GPUs and TPUs
    L.seed_everything(0, verbose=False)
    teacher = torch.nn.Linear(20, 4)  # labels from a random linear teacher, with some noise
    x = torch.randn(4096, 20)
    with torch.no_grad():
        y = (teacher(x) + 0.3 * torch.randn(4096, 4)).argmax(1)
    module = Classifier()
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, DataLoader(TensorDataset(x, y), batch_size=512, shuffle=True))

    opt = trainer.optimizers[0]
    with torch.no_grad():
        logits = module(x)
        loss, accuracy = F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()
    print(f"final: loss {loss:.4f}, accuracy {accuracy:.3f}, {opt.totals['accepted']} of {opt.totals['steps']} "
          f"steps accepted, {trainer.global_step} optimiser steps by Lightning")


if __name__ == "__main__":
    main()
