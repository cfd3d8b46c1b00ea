"""Stochastic Rosenbrock function (thesis §5.2.2, Eq. 5.1; Henriques et al., 2019).

    R(x, y) = (1 − x)² + 100 ε (y − x²)²,   ε ~ U[noise_low, noise_high]

Readings of the thesis:

- "at each evaluation of the function, a noise sample is drawn": one ε per optimiser step (the
  step's "batch"), so every closure call of one step — KryBall's trial point, LBFGS's line
  search — sees the same function, as a mini-batch would (docs/design.md §3, §4).
- U[1, 1] is the deterministic function; convergence is measured on it: f − f* ≤ 1e-4 with
  f* = 0 at (1, 1), whatever the noise of the training objective.
- The thesis gives no start point; we use the classic (−1.2, 1) of Rosenbrock (1960)
  (``model.start`` in ``conf/task/rosenbrock.yaml``).
"""

import torch

from tasks.base import Task, epoch_generator


def rosenbrock(point: torch.Tensor, noise: float | torch.Tensor = 1.0) -> torch.Tensor:
    x, y = point[0], point[1]
    return (1 - x) ** 2 + 100 * noise * (y - x**2) ** 2


class Rosenbrock(Task):
    def __init__(self, seed: int, device, dtype, noise_low: float = 1.0, noise_high: float = 1.0,
                 tolerance: float = 1e-4):
        self.seed, self.low, self.high, self.tolerance = seed, noise_low, noise_high, tolerance

    def batches(self, epoch: int):
        u = torch.rand((), generator=epoch_generator(self.seed, epoch), dtype=torch.float64)
        yield float(self.low + (self.high - self.low) * u)

    def loss(self, model, batch: float) -> torch.Tensor:
        """``batch`` is the step's noise sample ε."""
        return rosenbrock(model(), batch)

    @torch.no_grad()
    def evaluate(self, model) -> dict:
        point = model()
        return {"train_loss": float(rosenbrock(point)), "x": float(point[0]), "y": float(point[1])}

    def converged(self, row: dict) -> bool:
        return row["train_loss"] <= self.tolerance
