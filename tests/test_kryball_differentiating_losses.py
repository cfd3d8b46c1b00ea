"""Losses that differentiate (kryball/closure.py, docs/design.md §3): a physics-informed residual, whose closure takes
the network's derivatives with respect to its inputs with ``torch.autograd.grad(..., create_graph=True)``, and a
gradient penalty. Their trial points cannot be evaluated under ``torch.no_grad``; KryBall evaluates them with
gradient tracking, and keeps the graph-free trial evaluation for ordinary losses."""

import math

import pytest
import torch

from kryball import KryBall
from kryball.closure import Closure
from kryball.distributed import DistributedKryBall
from kryball.analysis import sample_line
from suite.local_group import run_in_processes

# KryBall as the thesis has it, and with KryBall+'s shipped options (conf/optim/kryball_plus.yaml): extra directions,
# M = 3 and the curvature on a sub-batch of the collocation points.
PLUS = dict(krylov_dim=3, refresh=3, directions=("adam", "previous_step"), curvature_batch=16)
OPTIONS = {"kryball": {}, "kryball_plus": PLUS}


class Poisson1D:
    """u'' = −π² sin(πx) on [0, 1], u(0) = u(1) = 0 (exact u = sin πx), by a tanh network: one squared residual
    per collocation point, and the two boundary values."""

    def __init__(self, points: int = 48, seed: int = 0):
        torch.manual_seed(seed)
        self.model = torch.nn.Sequential(torch.nn.Linear(1, 12), torch.nn.Tanh(), torch.nn.Linear(12, 1)).double()
        self.x = torch.linspace(0, 1, points, dtype=torch.float64)[:, None]
        self.ends = torch.tensor([[0.0], [1.0]], dtype=torch.float64)

    def residuals(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clone().requires_grad_(True)
        u = self.model(x)
        (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
        (d2u,) = torch.autograd.grad(du.sum(), x, create_graph=True)
        return (d2u + math.pi ** 2 * torch.sin(math.pi * x)).squeeze(1)

    def closure(self, indices=None):
        """Per-point losses (the mean is the loss): each residual², with the boundary's squared values spread
        over the points; ``indices`` selects points (curvature on a sub-batch)."""
        x = self.x if indices is None else self.x[indices]
        return self.residuals(x) ** 2 + self.model(self.ends).pow(2).mean()

    def scalar_closure(self):
        return self.closure().mean()

    def error(self) -> float:
        with torch.no_grad():
            u = self.model(self.x).squeeze(1)
        exact = torch.sin(math.pi * self.x.squeeze(1))
        return ((u - exact).norm() / exact.norm()).item()


def gradient_penalty_closure(model, x, y, weight=0.1):
    """Least squares plus a penalty on the network's input gradient (as in WGAN-GP or input-gradient
    regularisation): the loss needs the gradient of the output with respect to x, with its graph."""
    def closure():
        inputs = x.clone().requires_grad_(True)
        out = model(inputs)
        (grad_x,) = torch.autograd.grad(out.sum(), inputs, create_graph=True)
        return (out - y).pow(2).mean() + weight * grad_x.pow(2).sum(1).mean()
    return closure


@pytest.mark.parametrize("name", OPTIONS)
def test_a_physics_informed_residual_trains(name):
    problem = Poisson1D()
    opt = KryBall(problem.model.parameters(), **OPTIONS[name])
    closure = problem.closure if name == "kryball_plus" else problem.scalar_closure
    first = problem.scalar_closure().item()
    for _ in range(40):
        loss = opt.step(closure)
    assert opt.totals["accepted"] >= 20
    assert loss.item() < first / 100
    assert problem.error() < 0.1


def test_a_gradient_penalty_trains():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Softplus(), torch.nn.Linear(16, 1)).double()
    x = torch.randn(64, 3, dtype=torch.float64)
    y = torch.sin(x.sum(1, keepdim=True))
    closure = gradient_penalty_closure(model, x, y)
    first = closure().item()
    opt = KryBall(model.parameters())
    for _ in range(30):
        loss = opt.step(closure)
    assert loss.item() < first / 2
    assert opt.totals["accepted"] >= 15


def test_trial_points_of_an_ordinary_loss_are_evaluated_without_a_graph():
    problem = Poisson1D()
    x = problem.x
    modes = []

    def ordinary():
        modes.append(torch.is_grad_enabled())
        return (problem.model(x) - torch.sin(math.pi * x)).pow(2).mean()

    def differentiating():
        modes.append(torch.is_grad_enabled())
        return problem.scalar_closure()

    for closure, trial_mode in ((ordinary, False), (differentiating, True)):
        opt = KryBall(problem.model.parameters(), max_retries=2)
        for _ in range(4):
            modes.clear()
            opt.step(closure)
            # A step evaluates the closure at θ with a graph, then at each trial point.
            assert modes[0] is True and len(modes) == opt.last_step.loss_evals
            assert set(modes[1:]) == {trial_mode}


def test_a_backward_inside_a_differentiating_closure_leaves_grad_at_the_point_before_the_step():
    problem = Poisson1D()
    params = list(problem.model.parameters())

    def closure():
        loss = problem.scalar_closure()
        loss.backward()
        return loss

    opt = KryBall(params)
    expected = torch.autograd.grad(problem.scalar_closure(), params)
    opt.step(closure)
    for p, g in zip(params, expected):
        torch.testing.assert_close(p.grad, g)  # the gradient at θ before the step, not at a trial point


def test_the_closure_learns_that_it_differentiates_from_a_trial_evaluation_alone():
    problem = Poisson1D()
    closure = Closure(problem.scalar_closure)
    assert not closure.differentiates
    value = closure.without_graph()  # the no-grad attempt sees autograd.grad, and evaluates again with a graph
    assert closure.differentiates and not value.requires_grad
    assert value.item() == pytest.approx(problem.scalar_closure().item(), rel=1e-12)


def test_an_ordinary_closure_that_raises_under_no_grad_still_raises():
    def broken():
        raise RuntimeError("the user's own error")

    with pytest.raises(RuntimeError, match="the user's own error"):
        Closure(broken).without_graph()


def test_loss_landscape_samples_of_a_differentiating_loss():
    problem = Poisson1D()
    params = list(problem.model.parameters())
    direction = torch.randn(sum(p.numel() for p in params), dtype=torch.float64)
    losses = sample_line(problem.scalar_closure, params, direction, torch.tensor([0.0, 0.5], dtype=torch.float64))
    assert losses[0].item() == pytest.approx(problem.scalar_closure().item(), rel=1e-12)
    assert torch.isfinite(losses).all()


def _poisson_in_shards(rank):
    """One process's half of the collocation points; each process starts from another initialisation."""
    results = {}
    for name, options in OPTIONS.items():
        problem = Poisson1D(seed=rank)
        half = slice(24 * rank, 24 * rank + 24)
        problem.x = problem.x[half]
        opt = DistributedKryBall(problem.model.parameters(), **options)
        torch.manual_seed(7)
        closure = problem.closure if name == "kryball_plus" else problem.scalar_closure
        for _ in range(5):
            opt.step(closure)
        results[name] = [p.detach().clone() for p in problem.model.parameters()]
    return results


def test_data_parallel_kryball_takes_the_steps_of_one_process_on_a_differentiating_loss():
    shards = run_in_processes(_poisson_in_shards, 2)
    for name, options in OPTIONS.items():
        problem = Poisson1D(seed=0)
        opt = KryBall(problem.model.parameters(), **options)
        torch.manual_seed(7)
        closure = problem.closure if name == "kryball_plus" else problem.scalar_closure
        for _ in range(5):
            opt.step(closure)
        for a, b, alone in zip(*(shard[name] for shard in shards), problem.model.parameters()):
            assert torch.equal(a, b)
            torch.testing.assert_close(a, alone.detach(), atol=1e-9, rtol=1e-9)
