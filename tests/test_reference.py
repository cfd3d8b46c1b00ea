"""The fast path agrees with the slow dense reference (kryball/reference.py; docs/design.md), which shares none of
its step: the trajectory, the radius, the saddle-free direction, the momentum and the saved state."""

import math

import pytest
import torch

from kryball import KryBall, exact_sfn_direction, solve_subproblem
from kryball.parameters import flatten
from kryball.reference import ReferenceKryBall, dense_subproblem


def nonconvex(n, seed):
    generator = torch.Generator().manual_seed(seed)
    M = torch.randn(n, n, dtype=torch.float64, generator=generator)
    S, c = (M + M.T) / 2, torch.randn(n, dtype=torch.float64, generator=generator)
    start = torch.randn(n, dtype=torch.float64, generator=generator)
    return (lambda th: 0.5 * th @ S @ th + c @ th + 0.25 * (th**4).sum() + torch.sin(3 * th).sum()), start


@pytest.mark.parametrize("hyperparameters", [
    dict(krylov_dim=3, refresh=2),
    dict(krylov_dim=2, refresh=3, max_retries=2, momentum=0.5),
    dict(krylov_dim=8, refresh=1, eig_clip=0.0),
    dict(krylov_dim=1, refresh=4, initial_radius=0.1, accept_ratio=0.1),
])
@pytest.mark.parametrize("seed", [0, 1])
def test_same_trajectory_as_the_reference(hyperparameters, seed):
    loss_fn, start = nonconvex(8, seed)
    theta = torch.nn.Parameter(start.clone())
    fast = KryBall([theta], **hyperparameters)
    reference = ReferenceKryBall(loss_fn, start, **hyperparameters)
    for _ in range(12):
        fast.step(lambda: loss_fn(theta))
        reference.step()
        torch.testing.assert_close(theta.detach(), reference.theta, atol=1e-10, rtol=1e-10)
        assert fast.flat_state.radius == pytest.approx(reference.radius, rel=1e-10)
        torch.testing.assert_close(fast.vectors["sfn_direction"], reference.sfn_direction, atol=1e-9, rtol=1e-9)
        torch.testing.assert_close(fast.vectors["momentum"], reference.momentum, atol=1e-10, rtol=1e-10)
        saved = fast.state_dict()["state"][0]  # what a checkpoint holds
        assert saved["radius"] == pytest.approx(reference.radius, rel=1e-10)
        torch.testing.assert_close(saved["momentum"], reference.momentum, atol=1e-10, rtol=1e-10)
        # The basis of the same Krylov space: the same span (its last vectors are ill-determined when M spans all of
        # θ), and the same projected curvature, whose eigenvalues are the Ritz values.
        Q, Q_ref = saved["krylov_basis"], reference.krylov_basis
        torch.testing.assert_close(Q @ Q.T, Q_ref @ Q_ref.T, atol=1e-8, rtol=1e-8)
        ritz = torch.linalg.eigvalsh(torch.tensor(saved["krylov_curvature"], dtype=torch.float64))
        torch.testing.assert_close(ritz, reference.ritz_values, atol=1e-8, rtol=1e-8)


def test_same_trajectory_on_a_network_with_several_parameter_tensors():
    generator = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Softplus(), torch.nn.Linear(5, 2)).double()
    x, y = torch.randn(16, 3, dtype=torch.float64, generator=generator), torch.randint(0, 2, (16,), generator=generator)
    names = [name for name, _ in model.named_parameters()]
    params = list(model.parameters())

    def loss_of(flat):
        chunks = torch.split(flat, [p.numel() for p in params])
        weights = {n: c.view(p.shape) for n, c, p in zip(names, chunks, params)}
        return torch.nn.functional.cross_entropy(torch.func.functional_call(model, weights, (x,)), y)

    reference = ReferenceKryBall(loss_of, flatten(params).detach(), krylov_dim=4, refresh=2)
    fast = KryBall(model.parameters(), krylov_dim=4, refresh=2)
    for _ in range(10):
        fast.step(lambda: torch.nn.functional.cross_entropy(model(x), y))
        reference.step()
    torch.testing.assert_close(flatten(params).detach(), reference.theta, atol=1e-9, rtol=1e-9)


def test_reference_sfn_is_exact_when_the_krylov_space_is_everything():
    loss_fn, start = nonconvex(5, 3)
    reference = ReferenceKryBall(loss_fn, start, krylov_dim=5, refresh=1)
    g = torch.func.grad(loss_fn)(start)
    H = torch.autograd.functional.hessian(loss_fn, start)
    reference.step()
    torch.testing.assert_close(reference.sfn_direction, exact_sfn_direction(H, g, 1e-4))


@pytest.mark.parametrize("seed", range(20))
def test_the_references_subproblem_solver_agrees_with_the_fast_one(seed):
    """Two exact solvers written apart (secular Newton, bisection) give the same step, definite or not."""
    generator = torch.Generator().manual_seed(seed)
    k = 1 + seed % 5
    M = torch.randn(k, k, dtype=torch.float64, generator=generator)
    A = (M + M.T) / 2 + (seed % 3 - 1) * torch.eye(k, dtype=torch.float64)
    b = torch.randn(k, dtype=torch.float64, generator=generator)
    radius = float(torch.rand((), generator=generator, dtype=torch.float64)) * 3 + 0.05
    step, on_boundary = dense_subproblem(A, b, radius)
    fast = solve_subproblem(A, b, radius)
    torch.testing.assert_close(step, fast.step, atol=1e-9, rtol=1e-9)
    assert on_boundary == fast.hits_boundary


def test_the_references_subproblem_solver_takes_the_hard_case_to_the_boundary():
    A = torch.diag(torch.tensor([-2.0, 1.0, 3.0], dtype=torch.float64))
    b = torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)  # nothing along the lowest eigenvector
    step, on_boundary = dense_subproblem(A, b, 2.0)
    assert on_boundary and step.norm().item() == pytest.approx(2.0)
    torch.testing.assert_close(step[1:], torch.tensor([-1 / 3, -3 / 5], dtype=torch.float64))
    assert abs(step[0].item()) == pytest.approx(math.sqrt(4 - 1 / 9 - 9 / 25))
