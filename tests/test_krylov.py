"""Lanczos and the saddle-free direction in the Krylov subspace."""

import pytest
import torch

from kryball.krylov import lanczos
from kryball.saddle_free import exact_sfn_direction, sfn_direction


def symmetric_with_spectrum(eigenvalues, seed=0):
    generator = torch.Generator().manual_seed(seed)
    n = len(eigenvalues)
    V, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=generator))
    return V @ torch.diag(torch.as_tensor(eigenvalues, dtype=torch.float64)) @ V.T


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_basis_is_orthonormal_and_T_is_the_projection(dtype, tol):
    A = symmetric_with_spectrum(torch.linspace(-3, 10, 50)).to(dtype)
    v0 = torch.randn(50, dtype=dtype, generator=torch.Generator().manual_seed(1))
    Q, T = lanczos(lambda v: A @ v, v0, 8)
    assert Q.shape == (50, 8) and T.shape == (8, 8) and T.dtype == torch.float64
    torch.testing.assert_close(Q.T @ Q, torch.eye(8, dtype=dtype), atol=tol, rtol=0)
    torch.testing.assert_close((Q.T @ A @ Q).double(), T, atol=tol * 10, rtol=0)
    torch.testing.assert_close(Q[:, 0], v0 / v0.norm())
    assert torch.equal(T, T.T) and torch.count_nonzero(torch.triu(T, 2)) == 0  # tridiagonal


def test_ritz_values_approach_the_extreme_eigenvalues():
    eigenvalues = torch.cat([torch.tensor([-5.0]), torch.linspace(0, 1, 198), torch.tensor([20.0])])
    A = symmetric_with_spectrum(eigenvalues, seed=2)
    v0 = torch.randn(200, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    errors = []
    for dim in (3, 6, 12):
        _, T = lanczos(lambda v: A @ v, v0, dim)
        ritz = torch.linalg.eigvalsh(T)
        errors.append((abs(ritz[-1].item() - 20.0), abs(ritz[0].item() + 5.0)))
    assert errors[-1][0] < 1e-8 and errors[-1][1] < 1e-8
    assert errors[0][0] > errors[-1][0]  # more steps, better extreme Ritz values


def test_breakdown_on_a_low_rank_matrix_returns_the_smaller_basis():
    A = symmetric_with_spectrum([3.0, -2.0, 1.0] + [0.0] * 17, seed=4)
    v0 = A @ torch.randn(20, dtype=torch.float64, generator=torch.Generator().manual_seed(5))  # in range(A)
    Q, T = lanczos(lambda v: A @ v, v0, 10)
    assert Q.shape == (20, 3) and T.shape == (3, 3)
    assert torch.isfinite(Q).all()
    torch.testing.assert_close(torch.linalg.eigvalsh(T), torch.tensor([-2.0, 1.0, 3.0], dtype=torch.float64))


def test_zero_start_vector_and_bad_arguments():
    Q, T = lanczos(lambda v: v, torch.zeros(5), 3)
    assert Q.shape == (5, 0) and T.shape == (0, 0)
    with pytest.raises(ValueError, match="dim"):
        lanczos(lambda v: v, torch.ones(5), 0)
    with pytest.raises(ValueError, match="flat"):
        lanczos(lambda v: v, torch.ones(5, 1), 2)


def test_dim_larger_than_the_space_is_capped():
    A = symmetric_with_spectrum([1.0, 2.0, 3.0])
    Q, _ = lanczos(lambda v: A @ v, torch.ones(3, dtype=torch.float64), 10)
    assert Q.shape[1] <= 3


def test_sfn_flips_negative_curvature_on_the_horse_saddle():
    """Thesis §4.1: at (1.5, 1.5) on x² − y² the SFN step goes to (0, 3), Newton's to (0, 0)."""
    H = torch.diag(torch.tensor([2.0, -2.0], dtype=torch.float64))
    g = torch.tensor([3.0, -3.0], dtype=torch.float64)
    step = exact_sfn_direction(H, g, eig_clip=0.0)
    torch.testing.assert_close(torch.tensor([1.5, 1.5], dtype=torch.float64) + step,
                               torch.tensor([0.0, 3.0], dtype=torch.float64))
    newton = -torch.linalg.solve(H, g)
    torch.testing.assert_close(torch.tensor([1.5, 1.5], dtype=torch.float64) + newton, torch.zeros(2, dtype=torch.float64))


def test_sfn_equals_newton_on_positive_definite_and_clips_small_curvature():
    H = symmetric_with_spectrum([1.0, 4.0, 9.0])
    g = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(exact_sfn_direction(H, g, 1e-4), -torch.linalg.solve(H, g))
    H_flat = torch.diag(torch.tensor([1e-8, 2.0], dtype=torch.float64))
    clipped = exact_sfn_direction(H_flat, torch.ones(2, dtype=torch.float64), eig_clip=0.5)
    torch.testing.assert_close(clipped, torch.tensor([-2.0, -0.5], dtype=torch.float64))  # 1/0.5, not 1/1e-8
    singular = exact_sfn_direction(torch.zeros(2, 2, dtype=torch.float64), torch.ones(2, dtype=torch.float64), 0.0)
    assert torch.isfinite(singular).all()


def test_krylov_sfn_matches_the_exact_one_when_the_basis_spans_the_space():
    H = symmetric_with_spectrum([-3.0, -0.5, 0.7, 2.0, 6.0], seed=6)
    g = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    Q, T = lanczos(lambda v: H @ v, g, 5)
    y, ritz = sfn_direction(T, Q.T @ g, 1e-4)
    torch.testing.assert_close(Q @ y, exact_sfn_direction(H, g, 1e-4))
    torch.testing.assert_close(ritz, torch.tensor([-3.0, -0.5, 0.7, 2.0, 6.0], dtype=torch.float64))
