"""A closure as a function of one flat float64 vector, for scipy's minimisers: value and gradient
together, and Hessian-vector products, each counted.

scipy's trust-region methods ask for ``fun(x) -> (f, g)`` (``jac=True``) at every point they try
and ``hessp(x, v)`` at the current point, many times per iteration. Every evaluation keeps the
gradient's graph (``create_graph=True``), so an HVP at the last point evaluated is one double
backward (Pearlmutter, 1994) with no new forward pass. An HVP asked at another point (scipy's current
point after it rejected the last trial) evaluates that point again, counted as such: the graph of an
earlier point cannot be kept, since the parameters are written in place and autograd checks the
version of what it saved.

Costs go into ``totals`` as the suite counts them (docs/design.md §5): an evaluation is one loss
evaluation and one gradient evaluation, a product one HVP. A non-finite loss is reported to scipy as
+inf, which its ratio test rejects (the radius shrinks), instead of NaN, which no comparison rejects.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch


class FlatObjective:
    def __init__(self, params: list[torch.Tensor], closure: Callable[[], torch.Tensor], totals: dict[str, int]):
        self.params, self.closure, self.totals = params, closure, totals
        self.first_loss: float | None = None  # the loss at the first point evaluated: the step's start
        self._point: np.ndarray | None = None  # where the parameters are, and the graph below is of
        self._gradients: list[torch.Tensor] = []

    # Between the flat float64 vector and the parameters.
    def assign(self, x: np.ndarray) -> None:
        flat = torch.as_tensor(x)
        offset = 0
        with torch.no_grad():
            for p in self.params:
                p.copy_(flat[offset:offset + p.numel()].view_as(p))
                offset += p.numel()

    def flatten(self, tensors) -> np.ndarray:
        return torch.cat([t.detach().reshape(-1) for t in tensors]).to("cpu", torch.float64).numpy()

    def _pieces(self, v: np.ndarray) -> list[torch.Tensor]:
        flat, pieces, offset = torch.as_tensor(v), [], 0
        for p in self.params:
            pieces.append(flat[offset:offset + p.numel()].view_as(p).to(p.device, p.dtype))
            offset += p.numel()
        return pieces

    # What scipy calls.
    def evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The loss and gradient at ``x``; the parameters stay at ``x`` with the gradient's graph."""
        self.assign(x)
        with torch.enable_grad():
            loss = self.closure()
            gradients = torch.autograd.grad(loss, self.params, create_graph=True, allow_unused=True)
        self.totals["loss_evals"] += 1
        self.totals["gradient_evals"] += 1
        self._gradients = [torch.zeros_like(p) if g is None else g for p, g in zip(self.params, gradients)]
        self._point = np.array(x, dtype=np.float64, copy=True)
        value = float(loss.detach())
        if self.first_loss is None:
            self.first_loss = value
        return (value if math.isfinite(value) else math.inf), self.flatten(self._gradients)

    def hessp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """H(x) v, one HVP (after evaluating ``x`` again if the parameters are elsewhere)."""
        if self._point is None or not np.array_equal(x, self._point):
            self.evaluate(x)
        connected = [(g, p) for g, p in zip(self._gradients, self.params) if g.requires_grad]
        products = [torch.zeros_like(p) for p in self.params]
        if connected:
            pieces = dict(zip(map(id, self.params), self._pieces(v)))
            with torch.enable_grad():
                found = torch.autograd.grad([g for g, _ in connected], self.params,
                                            grad_outputs=[pieces[id(p)] for _, p in connected],
                                            retain_graph=True, allow_unused=True)
            products = [torch.zeros_like(p) if h is None else h for p, h in zip(self.params, found)]
        self.totals["hvps"] += 1
        return self.flatten(products)

    def release(self) -> None:
        """Drop the graph (it holds the whole forward pass)."""
        self._gradients, self._point = [], None
