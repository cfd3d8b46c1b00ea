"""The trust-region subproblem solver and the radius/acceptance rules."""

import math

import pytest
import torch

from kryball.trust_region import is_accepted, reduction_ratio, solve_subproblem, update_radius


def random_symmetric(k, kind, generator):
    V, _ = torch.linalg.qr(torch.randn(k, k, dtype=torch.float64, generator=generator))
    eigenvalues = torch.randn(k, dtype=torch.float64, generator=generator) * 3
    if kind == "definite":
        eigenvalues = eigenvalues.abs() + 0.1
    elif kind == "indefinite":
        eigenvalues[0] = -abs(eigenvalues[0]) - 0.1
        eigenvalues[-1] = abs(eigenvalues[-1]) + 0.1
    elif kind == "singular":
        eigenvalues = eigenvalues.abs()
        eigenvalues[: max(1, k // 3)] = 0.0
    return V @ torch.diag(eigenvalues) @ V.T


def objective(A, b, alpha):
    return (b @ alpha + 0.5 * alpha @ A @ alpha).item()


def assert_kkt(A, b, radius, solution, tol=1e-9):
    """Moré–Sorensen: these conditions are necessary and sufficient for a global minimiser."""
    alpha, lam = solution.step, solution.multiplier
    k = A.shape[0]
    scale = max(1.0, A.abs().max().item(), b.abs().max().item())
    assert alpha.norm().item() <= radius * (1 + tol)
    assert lam >= 0
    residual = (A + lam * torch.eye(k, dtype=A.dtype)) @ alpha + b
    assert residual.norm().item() <= tol * scale * max(1.0, radius)
    assert torch.linalg.eigvalsh(A + lam * torch.eye(k, dtype=A.dtype)).min().item() >= -tol * scale
    assert abs(lam * (radius - alpha.norm().item())) <= tol * scale * max(1.0, radius)
    assert solution.hits_boundary == (abs(alpha.norm().item() - radius) <= 1e-9 * radius) or lam == 0


@pytest.mark.parametrize("kind", ["definite", "indefinite", "singular"])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 10])
def test_kkt_conditions_hold_on_random_problems(kind, k):
    generator = torch.Generator().manual_seed(1000 * k + len(kind))
    for _ in range(40):
        A = random_symmetric(k, kind, generator)
        b = torch.randn(k, dtype=torch.float64, generator=generator)
        radius = 10 ** (torch.rand(1, generator=generator).item() * 4 - 2)
        solution = solve_subproblem(A, b, radius)
        assert_kkt(A, b, radius, solution)


@pytest.mark.parametrize("kind", ["definite", "indefinite", "singular"])
def test_no_feasible_point_does_better(kind):
    generator = torch.Generator().manual_seed(7)
    for k in (2, 4):
        for _ in range(10):
            A = random_symmetric(k, kind, generator)
            b = torch.randn(k, dtype=torch.float64, generator=generator)
            radius = 0.3 + 2 * torch.rand(1, generator=generator).item()
            best = objective(A, b, solve_subproblem(A, b, radius).step)
            # Brute force: many points spread over the ball (directions × radii).
            directions = torch.randn(20000, k, dtype=torch.float64, generator=generator)
            directions /= directions.norm(dim=1, keepdim=True)
            radii = radius * torch.rand(20000, 1, dtype=torch.float64, generator=generator) ** (1 / k)
            points = torch.cat([directions * radii, directions * radius])
            values = points @ b + 0.5 * ((points @ A) * points).sum(1)
            assert best <= values.min().item() + 1e-12


def test_interior_newton_step_when_it_fits():
    A = torch.diag(torch.tensor([2.0, 4.0], dtype=torch.float64))
    b = torch.tensor([1.0, 2.0], dtype=torch.float64)
    solution = solve_subproblem(A, b, 10.0)
    torch.testing.assert_close(solution.step, torch.tensor([-0.5, -0.5], dtype=torch.float64))
    assert solution.multiplier == 0.0 and not solution.hits_boundary


def test_hard_case_b_orthogonal_to_lowest_eigenvector():
    A = torch.diag(torch.tensor([-2.0, 1.0, 3.0], dtype=torch.float64))
    b = torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64)
    radius = 5.0
    solution = solve_subproblem(A, b, radius)
    assert solution.hits_boundary
    assert solution.multiplier == pytest.approx(2.0, abs=1e-12)
    assert solution.step.norm().item() == pytest.approx(radius, rel=1e-12)
    # The components off the lowest eigenvector are −b_i/(λ_i + 2); the rest goes along e₁.
    torch.testing.assert_close(solution.step[1:], torch.tensor([-1 / 3, -1 / 5], dtype=torch.float64))
    assert_kkt(A, b, radius, solution)


def test_hard_case_in_a_rotated_basis_and_zero_gradient_at_a_saddle():
    generator = torch.Generator().manual_seed(3)
    V, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64, generator=generator))
    A = V @ torch.diag(torch.tensor([-1.0, -1.0, 2.0, 5.0], dtype=torch.float64)) @ V.T  # repeated lowest
    b = V[:, 2] + 0.5 * V[:, 3]
    solution = solve_subproblem(A, b, 3.0)
    assert_kkt(A, b, 3.0, solution)
    assert solution.multiplier == pytest.approx(1.0, abs=1e-10)
    # b = 0 at a saddle: the exact solution leaves along negative curvature.
    escape = solve_subproblem(A, torch.zeros(4, dtype=torch.float64), 2.0)
    assert escape.step.norm().item() == pytest.approx(2.0) and objective(A, torch.zeros(4, dtype=torch.float64), escape.step) < 0


def test_singular_psd_with_b_in_range_gives_minimum_norm_interior_step():
    A = torch.diag(torch.tensor([0.0, 2.0], dtype=torch.float64))
    b = torch.tensor([0.0, 2.0], dtype=torch.float64)
    solution = solve_subproblem(A, b, 10.0)
    torch.testing.assert_close(solution.step, torch.tensor([0.0, -1.0], dtype=torch.float64))
    assert solution.multiplier == 0.0


def test_near_hard_case_is_still_accurate():
    A = torch.diag(torch.tensor([-1.0, 1.0], dtype=torch.float64))
    b = torch.tensor([1e-9, 1.0], dtype=torch.float64)
    assert_kkt(A, b, 4.0, solve_subproblem(A, b, 4.0), tol=1e-8)


def test_float32_input_gives_float32_output_and_size_zero_works():
    A = torch.eye(3)
    assert solve_subproblem(A, torch.ones(3), 0.1).step.dtype == torch.float32
    empty = solve_subproblem(torch.zeros(0, 0), torch.zeros(0), 1.0)
    assert empty.step.shape == (0,) and not empty.hits_boundary


@pytest.mark.parametrize("A, b, radius, message", [
    (torch.eye(2), torch.ones(3), 1.0, "shape"),
    (torch.ones(2, 3), torch.ones(2), 1.0, "shape"),
    (torch.eye(2), torch.ones(2), 0.0, "radius"),
    (torch.eye(2), torch.ones(2), math.inf, "radius"),
    (torch.eye(2), torch.tensor([1.0, math.nan]), 1.0, "finite"),
])
def test_bad_input_is_refused(A, b, radius, message):
    with pytest.raises(ValueError, match=message):
        solve_subproblem(A, b, radius)


def test_radius_rule_follows_nocedal_wright():
    kwargs = dict(max_radius=8.0, min_radius=1e-3)
    assert update_radius(1.0, 0.1, 1.0, **kwargs) == 0.25  # poor agreement: shrink
    assert update_radius(1.0, 0.5, 1.0, **kwargs) == 1.0  # fair: keep
    assert update_radius(1.0, 0.9, 1.0, **kwargs) == 2.0  # good and on the boundary: expand
    assert update_radius(1.0, 0.9, 0.5, **kwargs) == 1.0  # good but interior: keep
    assert update_radius(6.0, 0.9, 6.0, **kwargs) == 8.0  # capped
    assert update_radius(2e-3, -math.inf, 1e-3, **kwargs) == 1e-3  # floored


def test_ratio_and_acceptance():
    assert reduction_ratio(1.0, 2.0) == 0.5
    assert reduction_ratio(math.nan, 1.0) == -math.inf
    assert reduction_ratio(-math.inf, 1.0) == -math.inf
    assert is_accepted(0.1, 0.0) and not is_accepted(0.0, 0.0) and not is_accepted(-1.0, 0.0)
    assert not is_accepted(0.1, 0.2)
