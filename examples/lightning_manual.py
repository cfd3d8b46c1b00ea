"""KryBall in a PyTorch Lightning module with manual optimisation (``automatic_optimization = False``).

    python examples/lightning_manual.py [--epochs N]

``training_step`` takes the step itself: ``opt.step(closure)`` with a closure that returns the loss, graph and
all. That is the recommended form: KryBall differentiates the loss itself, so the closure needs no
``self.manual_backward(loss)``; one that calls it still works, at the cost of one more backward pass per step
(KryBall then leaves in ``.grad`` the gradient at the point the step started from). Lightning wraps the closure, so
it cannot take ``indices``: it calls ``kryball.curvature_examples`` for curvature on a sub-batch. ``opt.step``
returns the batch's loss at the point the step started from, which is what is logged.
"""

import argparse
import logging

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import kryball


class Regressor(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.automatic_optimization = False
        self.net = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32),
                                       torch.nn.Tanh(), torch.nn.Linear(32, 1))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        x, y = batch

        def closure():
            xs, ys = kryball.curvature_examples(x, y)  # the whole batch, or the curvature's sub-batch
            return F.mse_loss(self(xs), ys)  # with its graph; no manual_backward needed

        loss = opt.step(closure=closure)
        self.log("train_loss", loss, prog_bar=False)

    def configure_optimizers(self):
        return kryball.KryBall(self.parameters(), model=self, krylov_dim=3, curvature_batch=128,
                               directions=("adam", "previous_step"), curvature="auto")  # KryBall+


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=25)
    args = p.parse_args()
    torch.set_num_threads(1)  # a model this small trains fastest on one CPU thread
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    L.seed_everything(0, verbose=False)
    x = torch.linspace(-3, 3, 1024)[:, None]
    y = torch.sin(2 * x) + 0.05 * torch.randn_like(x)
    module = Regressor()
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, DataLoader(TensorDataset(x, y), batch_size=256, shuffle=True))

    opt = trainer.optimizers[0]
    with torch.no_grad():
        mse = F.mse_loss(module(x), y).item()
    print(f"final: mean squared error {mse:.4f} (noise variance 0.0025), {opt.totals['accepted']} of "
          f"{opt.totals['steps']} steps accepted")


if __name__ == "__main__":
    main()
