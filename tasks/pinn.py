"""Physics-informed tasks: fit u(x, t) by a network whose loss is a PDE's residual plus its initial and boundary
conditions (Raissi, Perdikaris & Karniadakis, 2019), set up as Rathore, Lei, Frangella, Lu & Udell,
"Challenges in Training PINNs: A Loss Landscape Perspective" (ICML 2024) set them up, where full-batch
second-order methods (L-BFGS after Adam, then Newton–CG) are what works (docs/suite.md, "Physics-informed tasks").

The points (the paper's code, ``get_data``): a grid of ``num_x`` × ``num_t`` points over the PDE's domain;

- residual points: ``num_residual`` of the grid's interior points (x strictly inside, t > 0), drawn without
  replacement — by ``data_seed``, the same for every run seed (the paper draws them with the run seed);
- initial points: the ``num_x`` grid points at t = 0;
- boundary points: one pair per grid time, (x_lo, t) and (x_hi, t), ``num_t`` pairs.

The loss is the paper's (its ``loss_func``, ``"mse"``): the mean squared residual plus the mean squared initial
error (the wave adds the mean squared u_t(x, 0)) plus the mean squared boundary error (periodic:
u(x_hi, t) − u(x_lo, t); zero: u(x_lo, t)² + u(x_hi, t)²), each term a mean over its own points, whatever their
number. An *example* is one point (or boundary pair); the batch is their positions 0 … N − 1 (residual points,
then initial points, then boundary pairs). ``reduction="none"`` gives one loss per example, each term's
squared errors weighted by N / (its number of examples), so that their mean is the paper's loss;
``reduction="residuals"`` the residuals behind them, two per example (u's error and, on the wave, u_t at t = 0;
both boundary values where they must be zero; a zero beside a lone one), each scaled by the square root of its
term's weight, for KryBall's Gauss–Newton curvature (tasks/base.py); ``indices`` evaluates some examples only
(KryBall's ``curvature_batch``, kryball/closure.py). Full batch: an epoch is
one step on all the points, fixed for the whole run.

The error metric is the paper's ``l2_relative_error``, ‖u − u_exact‖₂ / ‖u_exact‖₂, on its test set: the
grid of ``test_num_x`` × ``test_num_t`` points (129 × 101: its ``(num_x − 1)/2 + 1`` with the paper's 257), taken
as its code stacks it — interior, initial and both boundary lines, so two corners count twice.

The residual needs u's input derivatives, so the loss takes them with autograd in any grad mode: under
``torch.no_grad`` (an evaluation, a trial point) it computes them with gradients on and returns the loss
detached, as a caller in that mode expects.
"""

import math

import torch

from suite.errors import ConfigError
from tasks.base import Task, least_squares_loss, select
from tasks.pdes import T, input_gradient


def grid(x_range, t_range, num_x: int, num_t: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``num_x`` × ``num_t`` grid's coordinates, both ends included (the paper's ``np.linspace``)."""
    return (torch.linspace(*x_range, num_x, dtype=torch.float64).to(dtype),
            torch.linspace(*t_range, num_t, dtype=torch.float64).to(dtype))


def points(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Every (x, t) pair of two coordinate vectors, t varying slowest (n × 2)."""
    tt, xx = torch.meshgrid(t, x, indexing="ij")
    return torch.stack([xx.reshape(-1), tt.reshape(-1)], dim=1)


def l2_relative_error(prediction: torch.Tensor, exact: torch.Tensor) -> float:
    """‖prediction − exact‖₂ / ‖exact‖₂ (the paper's ``l2_relative_error``)."""
    return float(torch.linalg.vector_norm(prediction - exact) / torch.linalg.vector_norm(exact))


class PINN(Task):
    least_squares = True  # loss(..., reduction="residuals"): tasks/base.py

    def __init__(self, seed: int, device, dtype, pde, num_x: int = 257, num_t: int = 101,
                 num_residual: int = 10000, data_seed: int = 0, test_num_x: int = 129, test_num_t: int = 101):
        if num_x < 3 or num_t < 2:
            raise ConfigError("task.num_x", f"need num_x ≥ 3 and num_t ≥ 2 (a grid with an interior), got "
                                            f"{num_x} and {num_t}")
        interior = (num_x - 2) * (num_t - 1)
        if not 1 <= num_residual <= interior:
            raise ConfigError("task.num_residual", f"must be in [1, {interior}] (the interior points of the "
                                                   f"{num_x} × {num_t} grid), got {num_residual}")
        self.pde = pde
        x, t = grid(pde.x_range, pde.t_range, num_x, num_t, torch.float64)
        candidates = points(x[1:-1], t[1:])
        drawn = torch.randperm(interior, generator=torch.Generator().manual_seed(data_seed))[:num_residual]
        self.residual_points = candidates[drawn.sort().values].to(device, dtype)
        self.initial_points = points(x, t[:1]).to(device, dtype)
        self.lower = points(x[:1], t).to(device, dtype)  # (x_lo, t) for every grid time
        self.upper = points(x[-1:], t).to(device, dtype)  # (x_hi, t)
        self.sizes = (num_residual, num_x, num_t)  # examples of each term: residual, initial, boundary
        self.positions = torch.arange(sum(self.sizes), device=device)

        tx, tt = grid(pde.x_range, pde.t_range, test_num_x, test_num_t, torch.float64)
        self.test_points = torch.cat([points(tx[1:-1], tt[1:]), points(tx, tt[:1]), points(tx[-1:], tt),
                                      points(tx[:1], tt)]).to(device, dtype)
        self.test_exact = pde.exact(self.test_points[:, 0], self.test_points[:, 1])

    def batches(self, epoch: int):
        yield (self.positions,)

    def loss(self, model, batch, indices=None, reduction="mean") -> torch.Tensor:
        (positions,) = select(batch, indices)
        kinds = self._kinds(positions)
        residuals = torch.cat(self._term_residuals(model, positions, kinds))
        if reduction != "mean":
            by_term = torch.cat([kind.nonzero().squeeze(1) for kind in kinds])  # where each row's example is
            residuals = residuals[torch.argsort(by_term)]  # back in the order of positions
        return least_squares_loss(residuals, reduction)

    def _kinds(self, positions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Which of ``positions`` are residual points, initial points, boundary pairs (three masks)."""
        n_res, n_ini, _ = self.sizes
        return positions < n_res, (positions >= n_res) & (positions < n_res + n_ini), positions >= n_res + n_ini

    def _term_residuals(self, model, positions: torch.Tensor, kinds) -> list[torch.Tensor]:
        """The weighted residuals of ``positions``, term by term (residual, initial, boundary), two per example (an
        example with one has a zero beside it), each term in the order of ``positions`` within it: an example's loss
        is the sum of its two squares (module docstring; ``tasks.base.least_squares_loss``)."""
        keep_graph = torch.is_grad_enabled()
        n_res, n_ini, _ = self.sizes
        total = len(self.positions)
        res, ini, bnd = (positions[kind] - offset for kind, offset in zip(kinds, (0, n_res, n_res + n_ini)))
        with torch.enable_grad():  # the residual is made of input derivatives, whatever the caller's mode
            xt = self.residual_points[res].requires_grad_(True)
            residual = self.pde.residual(model(xt).squeeze(-1), xt)
            xt0 = self.initial_points[ini].requires_grad_(self.pde.initial_velocity)
            u0 = model(xt0).squeeze(-1)
            error = u0 - self.pde.initial(xt0[:, 0].detach())
            # u_t(x, 0) = 0 (the wave)
            velocity = input_gradient(u0, xt0)[:, T] if self.pde.initial_velocity else torch.zeros_like(error)
            lo, hi = model(self.lower[bnd]).squeeze(-1), model(self.upper[bnd]).squeeze(-1)
            boundary = (hi - lo, torch.zeros_like(lo)) if self.pde.boundary == "periodic" else (lo, hi)
            pairs = (torch.stack([residual, torch.zeros_like(residual)], 1), torch.stack([error, velocity], 1),
                     torch.stack(boundary, 1))
            terms = [math.sqrt(total / size) * pair for size, pair in zip(self.sizes, pairs)]
        return terms if keep_graph else [term.detach() for term in terms]

    def _term_losses(self, model, positions: torch.Tensor, kinds) -> list[torch.Tensor]:
        """The weighted per-example losses of ``positions``, term by term (:meth:`_term_residuals` squared)."""
        return [least_squares_loss(term, "none") for term in self._term_residuals(model, positions, kinds)]

    @torch.no_grad()
    def evaluate(self, model) -> dict:
        terms = self._term_losses(model, self.positions, self._kinds(self.positions))
        total = len(self.positions)
        parts = {name: float(term.sum()) / total
                 for name, term in zip(("loss_residual", "loss_initial", "loss_boundary"), terms)}
        prediction = model(self.test_points).squeeze(-1)
        return {"train_loss": sum(parts.values()), "l2_relative_error": l2_relative_error(prediction, self.test_exact),
                **parts}
