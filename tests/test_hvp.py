"""Hessian-vector products from one gradient graph."""

import torch

from kryball.parameters import flatten
from kryball.curvature import HessianVectorProducts


def small_model_and_loss(seed=0):
    generator = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    x = torch.randn(8, 3, dtype=torch.float64, generator=generator)
    y = torch.randint(0, 2, (8,), generator=generator)
    params = list(model.parameters())

    def loss_of(flat):
        shapes = [p.shape for p in params]
        chunks = torch.split(flat, [p.numel() for p in params])
        named = {name: c.view(s) for (name, _), c, s in zip(model.named_parameters(), chunks, shapes)}
        return torch.nn.functional.cross_entropy(torch.func.functional_call(model, named, (x,)), y)

    return params, loss_of


def test_products_match_the_dense_hessian_and_batching_matches_looping():
    params, loss_of = small_model_and_loss()
    theta = flatten(params).detach()
    H = torch.autograd.functional.hessian(loss_of, theta)
    V = torch.randn(theta.numel(), 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    hvp = HessianVectorProducts(loss_of(flatten(params)), params)
    torch.testing.assert_close(hvp.gradient, torch.func.grad(loss_of)(theta))
    batched = hvp.matmat(V)
    assert hvp.batched
    looped = HessianVectorProducts(loss_of(flatten(params)), params, batched=False).matmat(V)
    torch.testing.assert_close(batched, H @ V)
    torch.testing.assert_close(looped, H @ V)
    torch.testing.assert_close(hvp.matvec(V[:, 0]), H @ V[:, 0])
    assert hvp.count == 5  # four batched + one single product


def test_unused_parameters_and_linear_losses_have_zero_curvature():
    used, unused = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))
    hvp = HessianVectorProducts((3 * used).sum(), [used, unused])
    torch.testing.assert_close(hvp.gradient, torch.tensor([3.0, 3.0, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(hvp.matmat(torch.ones(5, 2)), torch.zeros(5, 2))
    quadratic = HessianVectorProducts((used**2).sum(), [used, unused])
    torch.testing.assert_close(quadratic.matvec(torch.ones(5)), torch.tensor([2.0, 2.0, 0.0, 0.0, 0.0]))
