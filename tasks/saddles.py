"""The saddle functions of the thesis figures (Fig. 2.3, 2.12, 4.2): no minimum, no criterion.

- ``horse``:  f(x, y) = x² − y²  (a saddle at the origin)
- ``monkey``: f(x, y) = x³ − 3xy²  (a degenerate "monkey" saddle at the origin)

Both start at (1.5, 1.5), the start point of Fig. 2.12 and 4.2 (``model.start`` in the config).
Both are unbounded below, so a run shows whether an optimiser escapes the saddle; it records the
trajectory (``x``, ``y`` per epoch) and has no convergence criterion.
"""

import torch

from tasks.base import Task

FUNCTIONS = {
    "horse": lambda x, y: x**2 - y**2,
    "monkey": lambda x, y: x**3 - 3 * x * y**2,
}


class Saddle(Task):
    def __init__(self, seed: int, device, dtype, function: str = "horse"):
        if function not in FUNCTIONS:
            raise ValueError(f"task.function must be one of {sorted(FUNCTIONS)}, got {function!r}")
        self.f = FUNCTIONS[function]

    def batches(self, epoch: int):
        yield None

    def loss(self, model, batch=None) -> torch.Tensor:
        point = model()
        return self.f(point[0], point[1])

    @torch.no_grad()
    def evaluate(self, model) -> dict:
        point = model()
        return {"train_loss": float(self.loss(model)), "x": float(point[0]), "y": float(point[1])}
