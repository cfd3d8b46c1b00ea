"""The partial differential equations of the physics-informed tasks (tasks/pinn.py), as Rathore, Lei, Frangella,
Lu & Udell define them ("Challenges in Training PINNs: A Loss Landscape Perspective", ICML 2024, §2.1 and
Appendix A; their code's ``get_pde`` and ``get_ref_solutions``): domain, residual, initial and boundary
conditions, and the exact solution the error is measured against.

Each class gives, for a network u(x, t):

- ``residual(u, xt)`` — the PDE's left-hand side at the points ``xt`` (n × 2, columns x and t, with
  ``requires_grad``), from u's values there and its input derivatives taken by autograd with
  ``create_graph=True`` (the loss is differentiated again with respect to the weights);
- ``initial(x)`` — u(x, 0); ``initial_velocity`` says whether u_t(x, 0) = 0 is a condition too (the wave);
- ``boundary`` — ``"periodic"`` (u(x_lo, t) = u(x_hi, t)) or ``"zero"`` (u = 0 at both ends);
- ``exact(x, t)`` — the solution in closed form.
"""

import math

import torch


X, T = 0, 1  # the columns of a point


def input_gradient(y: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
    """(∂y/∂x, ∂y/∂t) at every point (n × 2): y holds one value per row of ``xt`` and the rows do not interact,
    so the gradient of their sum is the pointwise gradient — one backward pass for both columns. The graph is
    kept: the loss is differentiated again. A y that does not depend on the points (the derivative of a function
    linear in them) has gradient zero, which autograd would call an error."""
    if not y.requires_grad:
        return torch.zeros_like(xt)
    (gradient,) = torch.autograd.grad(y, xt, torch.ones_like(y), create_graph=True, allow_unused=True)
    return torch.zeros_like(xt) if gradient is None else gradient


class Convection:
    """u_t + β u_x = 0 on x ∈ [0, 2π], t ∈ [0, 1], periodic in x, u(x, 0) = sin x; u = sin(x − βt). β = 40 is the
    paper's hardest setting (its Figures 1–2)."""

    x_range, t_range, boundary, initial_velocity = (0.0, 2 * math.pi), (0.0, 1.0), "periodic", False

    def __init__(self, beta: float = 40.0):
        self.beta = beta

    def residual(self, u: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        u_x, u_t = input_gradient(u, xt).unbind(1)
        return u_t + self.beta * u_x

    def initial(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)

    def exact(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.sin(x - self.beta * t)


def gaussian_bump(x: torch.Tensor) -> torch.Tensor:
    """h(x) = exp(−(x − π)² / (2 (π/4)²)), the reaction problem's initial condition (the paper's, after
    Krishnapriyan et al., NeurIPS 2021)."""
    return torch.exp(-0.5 * ((x - math.pi) / (math.pi / 4)) ** 2)


class Reaction:
    """u_t − ρ u (1 − u) = 0 on x ∈ [0, 2π], t ∈ [0, 1], periodic in x, u(x, 0) = h(x) (:func:`gaussian_bump`);
    at each x the logistic ODE, solved by u = h e^{ρt} / (h e^{ρt} + 1 − h). ρ = 5 as in the paper."""

    x_range, t_range, boundary, initial_velocity = (0.0, 2 * math.pi), (0.0, 1.0), "periodic", False

    def __init__(self, rho: float = 5.0):
        self.rho = rho

    def residual(self, u: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        return input_gradient(u, xt)[:, T] - self.rho * u * (1 - u)

    def initial(self, x: torch.Tensor) -> torch.Tensor:
        return gaussian_bump(x)

    def exact(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        growth = gaussian_bump(x) * torch.exp(self.rho * t)
        return growth / (growth + 1 - gaussian_bump(x))


class Wave:
    """u_tt − 4 u_xx = 0 on x ∈ [0, 1], t ∈ [0, 1], u = 0 at x = 0 and x = 1, u(x, 0) = sin πx + ½ sin βπx and
    u_t(x, 0) = 0; u = sin πx cos 2πt + ½ sin βπx cos 2βπt. β = 5 as in the paper (the speed, 2, is fixed:
    β only sets the second mode's frequency)."""

    x_range, t_range, boundary, initial_velocity = (0.0, 1.0), (0.0, 1.0), "zero", True

    def __init__(self, beta: float = 5.0):
        self.beta = beta

    def residual(self, u: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        u_x, u_t = input_gradient(u, xt).unbind(1)
        return input_gradient(u_t, xt)[:, T] - 4 * input_gradient(u_x, xt)[:, X]

    def initial(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(math.pi * x) + 0.5 * torch.sin(self.beta * math.pi * x)

    def exact(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (torch.sin(math.pi * x) * torch.cos(2 * math.pi * t)
                + 0.5 * torch.sin(self.beta * math.pi * x) * torch.cos(2 * self.beta * math.pi * t))
