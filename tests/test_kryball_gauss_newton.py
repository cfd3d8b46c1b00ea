"""Gauss–Newton curvature (``curvature="gauss_newton"``, kryball/curvature.py): products with G = (2/N) JᵀJ of the
closure's residuals (kryball.Residuals), the same steps as the Hessian's where the two are equal (linear least
squares), sub-batches, ``curvature="auto"`` (the loss chooses), and one-line refusals of what it cannot take."""

import pytest
import torch

from kryball import KryBall, Residuals
from kryball.curvature import GaussNewtonProducts
from kryball.distributed import DistributedKryBall
from kryball.parameters import flatten


def data(n=7, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 3, dtype=torch.float64, generator=generator),
            torch.randn(n, 2, dtype=torch.float64, generator=generator))


def network(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()


def residuals_of(model, x, y):
    """The residuals as a function of the flat parameters (for torch.func's dense Jacobian)."""
    params = list(model.parameters())

    def residuals(flat):
        chunks = torch.split(flat, [p.numel() for p in params])
        named = {name: c.view(p.shape) for (name, p), c in zip(model.named_parameters(), chunks)}
        return torch.func.functional_call(model, named, (x,)) - y

    return residuals


def test_products_are_those_of_the_dense_gauss_newton_matrix_and_batching_matches_looping():
    (x, y), model = data(), network()
    params = list(model.parameters())
    theta = flatten(params).detach()
    J = torch.func.jacrev(residuals_of(model, x, y))(theta).reshape(-1, theta.numel())  # (N·2) × n
    G = 2 / 7 * J.T @ J
    V = torch.randn(theta.numel(), 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    products = GaussNewtonProducts(model(x) - y, params)
    torch.testing.assert_close(products.gradient, torch.func.grad(
        lambda t: residuals_of(model, x, y)(t).pow(2).sum(1).mean())(theta))
    torch.testing.assert_close(products.matmat(V), G @ V)
    assert products.batched
    looped = GaussNewtonProducts(model(x) - y, params, batched=False)
    torch.testing.assert_close(looped.matmat(V), G @ V)
    torch.testing.assert_close(looped.matvec(V[:, 0]), G @ V[:, 0])
    assert products.count == 4 and looped.count == 5
    assert torch.linalg.eigvalsh(V.T @ products.matmat(V)).min() >= -1e-12  # positive semi-definite


def test_on_linear_least_squares_it_takes_the_hessians_steps():
    x, y = data(n=12)
    runs = {}
    for curvature in ("hessian", "gauss_newton"):
        model = torch.nn.Linear(3, 2).double()
        torch.nn.init.zeros_(model.weight), torch.nn.init.zeros_(model.bias)
        optimizer = KryBall(model.parameters(), curvature=curvature, krylov_dim=3, refresh=2)
        for _ in range(5):
            optimizer.step(lambda: Residuals(model(x) - y))
        runs[curvature] = flatten(list(model.parameters())).detach(), optimizer.totals
    (hessian, hessian_totals), (gauss_newton, gauss_newton_totals) = runs.values()
    torch.testing.assert_close(gauss_newton, hessian)  # G = H when the residuals are linear in θ
    assert gauss_newton_totals == hessian_totals and hessian_totals["hvps"] > 0
    assert not torch.equal(hessian, torch.zeros_like(hessian))


def test_a_nonlinear_least_squares_fit_converges_with_sub_batch_curvature():
    (x, y), model = data(n=40), network()
    target = network(seed=1)
    with torch.no_grad():
        y = target(x)  # reachable: a zero loss exists
    optimizer = KryBall(model.parameters(), curvature="gauss_newton", krylov_dim=8, refresh=1, curvature_batch=10)
    seen = []

    def closure(indices=None):
        chosen = slice(None) if indices is None else indices
        seen.append(None if indices is None else len(indices))
        return Residuals(model(x[chosen]) - y[chosen])

    first = float(optimizer.step(closure))
    for _ in range(60):
        last = float(optimizer.step(closure))
    assert last < 1e-3 * first
    assert 10 in seen  # the products were taken on sub-batches of 10


def test_a_closure_that_returns_a_loss_is_refused_in_one_line():
    (x, y), model = data(), network()
    optimizer = KryBall(model.parameters(), curvature="gauss_newton")
    before = flatten(list(model.parameters())).detach().clone()
    with pytest.raises(TypeError, match=r"^KryBall: curvature='gauss_newton' needs a closure that returns "
                                        r"kryball\.Residuals\(r\)"):
        optimizer.step(lambda: (model(x) - y).pow(2).mean())
    assert torch.equal(flatten(list(model.parameters())).detach(), before)  # nothing changed
    with pytest.raises(ValueError, match="curvature must be 'hessian', 'gauss_newton' or 'auto', got 'fisher'"):
        KryBall(model.parameters(), curvature="fisher")
    with pytest.raises(TypeError, match=r"Residuals wants a tensor with the examples along its first dimension"):
        Residuals(torch.tensor(1.0))


def test_residuals_also_serve_the_hessian_and_data_parallel_kryball_refuses_gauss_newton():
    (x, y), model = data(), network()
    optimizer = KryBall(model.parameters())
    loss = optimizer.step(lambda: Residuals(model(x) - y))
    assert float(loss) == pytest.approx(float((network()(x) - y).detach().pow(2).sum(1).mean()))
    with pytest.raises(ValueError, match="DistributedKryBall takes Hessian curvature only"):
        DistributedKryBall(model.parameters(), curvature="gauss_newton")


def test_auto_takes_gauss_newton_steps_from_residuals_and_the_hessians_from_a_loss():
    (x, y), runs = data(), {}
    for curvature, gives in [("gauss_newton", "residuals"), ("auto", "residuals"), ("hessian", "loss"),
                             ("auto", "loss")]:
        model = network()
        optimizer = KryBall(model.parameters(), curvature=curvature, krylov_dim=4, refresh=2)
        for _ in range(4):
            optimizer.step(lambda: Residuals(model(x) - y) if gives == "residuals"
                           else (model(x) - y).pow(2).sum(1).mean())  # noqa: B023 (called at once)
        runs[curvature, gives] = flatten(list(model.parameters())).detach()
    torch.testing.assert_close(runs["auto", "residuals"], runs["gauss_newton", "residuals"], rtol=0, atol=0)
    torch.testing.assert_close(runs["auto", "loss"], runs["hessian", "loss"], rtol=0, atol=0)
    assert (runs["gauss_newton", "residuals"] - runs["hessian", "loss"]).abs().max() > 1e-6  # G ≠ H here: it chose
    auto = KryBall(network().parameters(), curvature="auto")
    assert auto.wants_residuals and not auto.needs_residuals  # a closure may give either
