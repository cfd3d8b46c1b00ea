"""Rahimi–Recht ill-conditioned linear regression (thesis §5.2.2, Eq. 5.2; Rahimi & Recht, 2017).

    L(W) = mean over n samples of ‖W_L ⋯ W_1 x − A x‖²

A ∈ ℝ^{dim×dim} has singular values linearly spaced in [1, κ] (``condition_number``) and random
orthogonal singular vectors; x ~ N(0, I). Readings of the thesis, which leaves these open:

- sizes: ``dim`` = 10 inputs and outputs and one hidden layer of 10 (the model's config); n = 1000;
- ‖·‖² is the squared error summed over outputs and averaged over samples, so the 1e-2 criterion
  does not scale with n;
- the problem (A and the samples) is drawn from ``data_seed`` and is the same for every run seed:
  the run seed only changes the network's initialisation, so seeds compare like with like;
- the whole data set is one batch (an epoch is one step), as for the other function tasks.
"""

import torch

from tasks.base import Task, least_squares_loss, select


def ill_conditioned_map(dim: int, condition_number: float, generator: torch.Generator) -> torch.Tensor:
    u, _ = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    singular_values = torch.linspace(1.0, condition_number, dim, dtype=torch.float64)
    return u @ torch.diag(singular_values) @ v.T


class RahimiRecht(Task):
    least_squares = True  # loss(..., reduction="residuals"): tasks/base.py

    def __init__(self, seed: int, device, dtype, condition_number: float = 10.0, dim: int = 10,
                 num_samples: int = 1000, data_seed: int = 0, tolerance: float = 1e-2):
        generator = torch.Generator().manual_seed(data_seed)
        a = ill_conditioned_map(dim, condition_number, generator)
        x = torch.randn(num_samples, dim, generator=generator, dtype=torch.float64)
        self.x, self.y = x.to(device, dtype), (x @ a.T).to(device, dtype)
        self.tolerance = tolerance

    def batches(self, epoch: int):
        yield self.x, self.y

    def loss(self, model, batch, indices=None, reduction="mean") -> torch.Tensor:
        x, y = select(batch, indices)
        return least_squares_loss(model(x) - y, reduction)

    @torch.no_grad()
    def evaluate(self, model) -> dict:
        return {"train_loss": float(self.loss(model, (self.x, self.y)))}

    def converged(self, row: dict) -> bool:
        return row["train_loss"] <= self.tolerance
