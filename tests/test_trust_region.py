"""The trust-region subproblem solver, the radius/acceptance rules and the loop of one step that uses them."""

import math

import pytest
import torch

from kryball import Options, Status
from kryball.trust_region import is_accepted, reduction_ratio, solve_subproblem, update_radius
from kryball.trust_region import QuadraticModel, trust_region_step


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
    assert update_radius(1.0, 0.1, True, **kwargs) == 0.25  # poor agreement: shrink
    assert update_radius(1.0, 0.1, False, **kwargs) == 0.25  # poor agreement, interior step: shrink all the same
    assert update_radius(1.0, 0.5, True, **kwargs) == 1.0  # fair: keep
    assert update_radius(1.0, 0.9, True, **kwargs) == 2.0  # good and on the boundary: expand
    assert update_radius(1.0, 0.9, False, **kwargs) == 1.0  # good but interior: keep
    assert update_radius(6.0, 0.9, True, **kwargs) == 8.0  # capped
    assert update_radius(2e-3, -math.inf, True, **kwargs) == 1e-3  # floored


# Nocedal & Wright Algorithm 4.1's thresholds and factors, written here rather than imported, so that a change of
# the rule's constants or of a comparison in kryball/trust_region.py fails: ρ < ¼ shrinks to ¼ of the radius,
# ρ > ¾ on the boundary doubles it, and exactly at a threshold nothing happens.
BELOW_A_QUARTER, A_QUARTER, ABOVE_A_QUARTER = math.nextafter(0.25, 0), 0.25, math.nextafter(0.25, 1)
BELOW_THREE_QUARTERS, THREE_QUARTERS, ABOVE_THREE_QUARTERS = math.nextafter(0.75, 0), 0.75, math.nextafter(0.75, 1)


@pytest.mark.parametrize("rho, on_boundary, new_radius", [
    (BELOW_A_QUARTER, True, 0.25), (BELOW_A_QUARTER, False, 0.25),
    (A_QUARTER, True, 1.0), (ABOVE_A_QUARTER, True, 1.0), (0.3, False, 1.0),
    (BELOW_THREE_QUARTERS, True, 1.0), (THREE_QUARTERS, True, 1.0),
    (ABOVE_THREE_QUARTERS, True, 2.0), (ABOVE_THREE_QUARTERS, False, 1.0), (0.8, True, 2.0), (0.8, False, 1.0),
    (-1.0, True, 0.25), (0.0, False, 0.25), (5.0, True, 2.0),
])
def test_radius_rule_at_and_on_either_side_of_each_threshold(rho, on_boundary, new_radius):
    assert update_radius(1.0, rho, on_boundary, max_radius=8.0, min_radius=1e-3) == new_radius


@pytest.mark.parametrize("radius, rho, new_radius", [
    (4.0, 0.9, 8.0), (4.5, 0.9, 8.0), (8.0, 0.9, 8.0),  # doubled up to the cap, never past it
    (4e-3, 0.0, 1e-3), (5e-3, 0.0, 1.25e-3), (1e-3, 0.0, 1e-3),  # a quarter down to the floor, never below it
])
def test_radius_rule_is_kept_within_its_floor_and_cap(radius, rho, new_radius):
    assert update_radius(radius, rho, True, max_radius=8.0, min_radius=1e-3) == new_radius


@pytest.mark.parametrize("rho, accept_ratio, accepted", [
    (math.nextafter(0.0, 1), 0.0, True), (0.0, 0.0, False), (math.nextafter(0.0, -1), 0.0, False),
    (math.nextafter(0.1, 1), 0.1, True), (0.1, 0.1, False), (math.nextafter(0.1, 0), 0.1, False),
    (-math.inf, 0.0, False), (math.inf, 0.2, True),
])
def test_a_step_is_accepted_exactly_when_rho_exceeds_the_ratio(rho, accept_ratio, accepted):
    assert is_accepted(rho, accept_ratio) is accepted


def test_ratio_and_acceptance():
    assert reduction_ratio(1.0, 2.0) == 0.5
    assert reduction_ratio(math.nan, 1.0) == -math.inf
    assert reduction_ratio(-math.inf, 1.0) == -math.inf
    assert is_accepted(0.1, 0.0) and not is_accepted(0.0, 0.0) and not is_accepted(-1.0, 0.0)
    assert not is_accepted(0.1, 0.2)


class ScriptedTrials:
    """Trial points whose losses are given in advance; records the steps tried and the restores."""

    def __init__(self, losses):
        self.theta = torch.zeros(2, dtype=torch.float64)
        self.losses, self.tried, self.restores = list(losses), [], 0

    def loss_at(self, p):
        self.tried.append(p)
        return self.losses.pop(0)

    def restore(self):
        self.restores += 1


def plain_model(A, b):
    """The quadratic bᵀα + ½αᵀAα with the identity as basis and coordinates, so p = α."""
    identity = torch.eye(2, dtype=torch.float64)
    return QuadraticModel(A, b, identity, identity)


def test_the_loop_retries_at_the_shrunk_radius_with_the_solver_it_is_given():
    A, b = torch.diag(torch.tensor([1.0, 2.0], dtype=torch.float64)), torch.tensor([-1.0, -1.0], dtype=torch.float64)
    radii = []

    def recording_solver(A, b, radius):
        radii.append(radius)
        return solve_subproblem(A, b, radius)

    trials = ScriptedTrials([math.nan, 10.0, -1.0])  # from loss 0: two rejections, then a large decrease
    outcome = trust_region_step(plain_model(A, b), 1.0, 0.0, trials, Options(max_retries=2), solve=recording_solver)
    assert radii == [1.0, 0.25, 0.0625]
    assert outcome.info.status is Status.ACCEPTED and outcome.info.retries == 2 and outcome.info.loss_evals == 4
    assert trials.restores == 2 and outcome.taken is outcome.tried is trials.tried[-1]
    assert outcome.info.radius == 0.125  # ρ ≫ ¾ on the boundary of 0.0625: doubled
    torch.testing.assert_close(outcome.tried.norm().item(), 0.0625)


def test_the_loop_stops_after_max_retries_and_leaves_theta_restored():
    A, b = torch.eye(2, dtype=torch.float64), torch.tensor([-1.0, 0.0], dtype=torch.float64)
    trials = ScriptedTrials([1.0, 1.0])
    outcome = trust_region_step(plain_model(A, b), 1.0, 0.0, trials, Options(max_retries=1))
    assert outcome.info.status is Status.REJECTED and outcome.taken is None and trials.restores == 2
    assert outcome.info.radius == 0.0625 and outcome.info.retries == 1 and len(trials.tried) == 2


def test_the_radius_grows_only_when_the_solver_says_the_step_is_on_the_boundary():
    """ρ = 1 each time: an interior Newton step keeps Δ, however close to the boundary; the step on the
    boundary doubles it; and a solver that calls its full-length step interior keeps it too (the loop
    takes the solver's ``hits_boundary``, it does not measure ‖α‖ itself)."""
    A, b = 2 * torch.eye(2, dtype=torch.float64), torch.tensor([-1.0, 0.0], dtype=torch.float64)

    def radius_after(radius, solve=solve_subproblem):
        alpha = solve(A, b, radius).step
        predicted = -(b @ alpha + 0.5 * alpha @ A @ alpha).item()
        outcome = trust_region_step(plain_model(A, b), radius, 0.0, ScriptedTrials([-predicted]), Options(),
                                    solve=solve)
        assert outcome.info.rho == pytest.approx(1.0) and outcome.info.accepted
        return outcome.info.radius

    assert radius_after(1.0) == 1.0  # Newton step α = (0.5, 0), inside
    assert radius_after(0.25) == 0.5  # α = (0.25, 0), on the boundary
    assert radius_after(0.5 * (1 + 1e-7)) == 0.5 * (1 + 1e-7)  # the Newton step, a hair inside: interior
    assert radius_after(0.25, lambda A, b, r: solve_subproblem(A, b, r)._replace(hits_boundary=False)) == 0.25


def test_a_step_that_predicts_no_measurable_decrease_is_not_tried():
    A, b = torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    trials = ScriptedTrials([])
    outcome = trust_region_step(plain_model(A, b), 1.0, 3.0, trials, Options(max_retries=3))
    assert outcome.info.status is Status.STATIONARY and outcome.tried is None and not trials.tried
    assert outcome.info.radius == 1.0 and outcome.info.loss_evals == 1
