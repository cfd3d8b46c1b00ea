"""Analysis tools: loss-landscape line samples and the saddle-free reconstruction error."""

import pytest
import torch

from kryball.analysis import sample_line
from kryball.analysis import dense_hessian, reconstruction_errors


def test_line_samples_trace_the_function_and_restore_the_parameters():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    before = p.detach().clone()
    direction = torch.tensor([1.0, 1.0], dtype=torch.float64)
    lambdas = torch.linspace(-2, 2, 9, dtype=torch.float64)
    losses = sample_line(lambda: (p**2).sum(), [p], direction, lambdas)
    expected = torch.stack([((before + lam * direction) ** 2).sum() for lam in lambdas])
    torch.testing.assert_close(losses, expected)
    assert torch.equal(p.detach(), before)
    with pytest.raises(ValueError, match="entries"):
        sample_line(lambda: (p**2).sum(), [p], torch.ones(3, dtype=torch.float64))


def test_line_samples_restore_parameters_even_when_the_closure_fails():
    p = torch.nn.Parameter(torch.zeros(2))
    calls = []

    def closure():
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return p.sum()

    with pytest.raises(RuntimeError, match="boom"):
        sample_line(closure, [p], torch.ones(2))
    assert torch.equal(p.detach(), torch.zeros(2))


def test_reconstruction_error_falls_with_the_krylov_dimension_and_vanishes_at_full_rank():
    generator = torch.Generator().manual_seed(0)
    V, _ = torch.linalg.qr(torch.randn(12, 12, dtype=torch.float64, generator=generator))
    H = V @ torch.diag(torch.linspace(-4, 9, 12, dtype=torch.float64)) @ V.T
    g = torch.randn(12, dtype=torch.float64, generator=generator)
    rows = reconstruction_errors(H, g, dims=[1, 3, 6, 12])
    best = [row["best_error"] for row in rows]
    assert best == sorted(best, reverse=True) and best[0] > 0.1  # nested spaces: never worse
    assert rows[-1]["best_error"] < 1e-10 and rows[-1]["kryball_error"] < 1e-8
    assert all(row["kryball_error"] >= row["best_error"] - 1e-12 for row in rows)  # projection is optimal


def test_dense_hessian_of_a_small_model():
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    w = torch.nn.Parameter(torch.randn(3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
    H, g = dense_hessian(lambda: ((x @ w) ** 2).sum(), [w])
    torch.testing.assert_close(H, 2 * x.T @ x)
    torch.testing.assert_close(g, 2 * x.T @ (x @ w.detach()))
