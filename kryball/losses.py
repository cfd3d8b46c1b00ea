"""Losses given by a network's outputs, which a closure returns for Gauss–Newton curvature (docs/design.md §3).

A loss ``L(θ) = mean_i ℓ(f_i(θ), t_i)`` that is convex in the outputs f has the generalised Gauss–Newton matrix
``G = Jᵀ ∇²_f L J`` (Schraudolph 2002), J = ∂f/∂θ: the Hessian without the network's own curvature, positive
semi-definite — the curvature of Hessian-free optimisation (Martens 2010), Krylov Subspace Descent (Vinyals & Povey
2012), K-FAC and CurveBall. :class:`kryball.curvature.GaussNewtonProducts` takes its products from the outputs'
graph and two things only the loss knows, given here in closed form: the gradient of the mean loss with respect to
the outputs, ``∇_f L``, and the product of its Hessian there with a vector, ``(∇²_f L) z``.

- :class:`Residuals` — a least-squares loss, ``ℓ = Σ_j r_ij²``: ``∇_f L = 2r/N``, ``∇²_f L = 2I/N``.
- :class:`Outputs` — the network's outputs beside their targets and the loss's name: ``"cross_entropy"`` (logits
  and class indices; ``∇²_f ℓ = diag(p) − ppᵀ`` with p the softmax, per example) or ``"squared_error"``
  (``Σ_j (f_ij − t_ij)²``, the same as ``Residuals(f − t)``).

Both hold the examples along the first dimension of ``values``, give each example's loss (``per_example``: what
``closure(indices)`` selects) and their mean (``loss``), and are used by KryBall with ``curvature="auto"`` (the
Gauss–Newton matrix where the closure returns one, the Hessian where it returns a loss) or ``"gauss_newton"``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _examples_first(values, name: str) -> torch.Tensor:
    if not isinstance(values, torch.Tensor) or values.ndim == 0 or values.shape[0] == 0:
        raise TypeError(f"{name} wants a tensor with the examples along its first dimension (N ≥ 1), got "
                        + (f"shape {tuple(values.shape)}" if isinstance(values, torch.Tensor)
                           else type(values).__name__))
    return values


class Residuals:
    """A least-squares loss given by its residuals, what a closure returns for Gauss–Newton curvature
    (``curvature="gauss_newton"``, :class:`kryball.curvature.GaussNewtonProducts`).

    ``values`` holds the examples along its first dimension: r_i (a number, or a row of numbers) for example i, and
    the loss is ``mean_i Σ_j r_ij²`` — so ``Residuals(r).loss()`` with ``r`` of shape (N,) is the mean squared
    error, and ``per_example()`` gives the Σ_j r_ij² (the same examples as the per-example losses of the
    closure contract, ``closure(indices)`` included). A weighted term of a loss (one of a physics-informed loss's
    three means) is a residual scaled by the square root of its weight.
    """

    def __init__(self, values: torch.Tensor):
        self.values = _examples_first(values, "Residuals")

    def per_example(self) -> torch.Tensor:
        """Each example's loss, ``Σ_j r_ij²`` (a 1-D tensor)."""
        return self.values.pow(2).reshape(self.values.shape[0], -1).sum(1)

    def loss(self) -> torch.Tensor:
        """``mean_i Σ_j r_ij²``."""
        return self.per_example().mean()

    def loss_gradient(self) -> torch.Tensor:
        """``∇_r L = 2r/N``, detached."""
        return self.values.detach() * (2.0 / self.values.shape[0])

    def hessian_times(self, z: torch.Tensor) -> torch.Tensor:
        """``(∇²_r L) z = 2z/N``, for z shaped like ``values`` (or a stack of them: a leading dimension)."""
        return z * (2.0 / self.values.shape[0])


class Outputs:
    """A network's outputs with their targets and a loss convex in them (this module's docstring), what a closure
    returns for generalised Gauss–Newton curvature: ``Outputs(model(x), y, "cross_entropy")``.

    Args:
        values: the outputs, examples along the first dimension — logits of shape (N, C) for cross-entropy.
        targets: class indices of shape (N,) for cross-entropy (``torch.long``); a tensor shaped like ``values``
            for squared error.
        loss: ``"cross_entropy"`` (the mean of ``F.cross_entropy``) or ``"squared_error"`` (the mean over examples
            of ``Σ_j (f_ij − t_ij)²``).
    """

    LOSSES = ("cross_entropy", "squared_error")

    def __init__(self, values: torch.Tensor, targets: torch.Tensor, loss: str = "cross_entropy"):
        self.values = _examples_first(values, "Outputs")
        if loss not in self.LOSSES:
            raise ValueError(f"Outputs: loss must be one of {', '.join(map(repr, self.LOSSES))}, got {loss!r}")
        if not isinstance(targets, torch.Tensor) or targets.shape[0] != values.shape[0]:
            raise ValueError(f"Outputs: targets must be a tensor with one row per output, {values.shape[0]}, got "
                             + (f"shape {tuple(targets.shape)}" if isinstance(targets, torch.Tensor)
                                else type(targets).__name__))
        if loss == "cross_entropy" and (values.ndim != 2 or targets.ndim != 1 or targets.is_floating_point()):
            raise ValueError(f"Outputs: cross_entropy wants logits of shape (N, C) and class indices of shape (N,), "
                             f"got {tuple(values.shape)} and {tuple(targets.shape)} ({targets.dtype})")
        if loss == "squared_error" and targets.shape != values.shape:
            raise ValueError(f"Outputs: squared_error wants targets shaped like the outputs, {tuple(values.shape)}, "
                             f"got {tuple(targets.shape)}")
        self.targets, self.kind = targets, loss

    def per_example(self) -> torch.Tensor:
        """Each example's loss (a 1-D tensor)."""
        if self.kind == "cross_entropy":
            return F.cross_entropy(self.values, self.targets, reduction="none")
        return (self.values - self.targets).pow(2).reshape(self.values.shape[0], -1).sum(1)

    def loss(self) -> torch.Tensor:
        """The mean of the examples' losses."""
        return self.per_example().mean()

    def loss_gradient(self) -> torch.Tensor:
        """``∇_f L``, detached: ``(p − onehot(t))/N`` for cross-entropy, ``2(f − t)/N`` for squared error."""
        n, f = self.values.shape[0], self.values.detach()
        if self.kind == "cross_entropy":
            return (f.softmax(-1) - F.one_hot(self.targets, f.shape[-1]).to(f.dtype)) / n
        return (f - self.targets) * (2.0 / n)

    def hessian_times(self, z: torch.Tensor) -> torch.Tensor:
        """``(∇²_f L) z`` for z shaped like ``values`` (or a stack of them): ``(p ⊙ z − p (pᵀz))/N`` per example for
        cross-entropy (the softmax's Jacobian), ``2z/N`` for squared error."""
        n = self.values.shape[0]
        if self.kind == "cross_entropy":
            p = self.values.detach().softmax(-1)
            pz = p * z
            return (pz - p * pz.sum(-1, keepdim=True)) / n
        return z * (2.0 / n)


# What a closure may return for Gauss–Newton curvature.
OUTPUT_LOSSES = (Residuals, Outputs)
