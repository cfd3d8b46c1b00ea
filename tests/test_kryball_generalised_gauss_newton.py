"""Generalised Gauss–Newton curvature for losses convex in a network's outputs (kryball/losses.py: ``Outputs``):
products with G = Jᵀ(∇²_f L)J against the dense matrix, the same products as ``Residuals`` on squared error, the
gradient of the loss, KryBall's steps with ``curvature="auto"`` on cross-entropy (whole batch and sub-batch), and
one-line refusals of what ``Outputs`` cannot take."""

import pytest
import torch
import torch.nn.functional as F

from kryball import KryBall, Outputs, Residuals, curvature_examples
from kryball.curvature import GaussNewtonProducts
from kryball.distributed import DistributedKryBall
from kryball.parameters import flatten
from suite.local_group import run_in_processes

N, CLASSES = 9, 3


def data(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(N, 4, dtype=torch.float64, generator=generator),
            torch.randint(0, CLASSES, (N,), generator=generator))


def network(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, CLASSES)).double()


def outputs_of(model, x):
    """The outputs as a function of the flat parameters (for torch.func's dense Jacobian)."""
    params = dict(model.named_parameters())

    def outputs(flat):
        chunks = torch.split(flat, [p.numel() for p in params.values()])
        named = {name: c.view(p.shape) for (name, p), c in zip(params.items(), chunks)}
        return torch.func.functional_call(model, named, (x,))

    return outputs


def dense_cross_entropy_ggn(model, x, y):
    """Jᵀ H J / N with H the softmax cross-entropy's Hessian in the logits, diag(p) − ppᵀ, per example."""
    theta = flatten(list(model.parameters())).detach()
    J = torch.func.jacrev(outputs_of(model, x))(theta)  # N × C × n
    p = outputs_of(model, x)(theta).softmax(-1).detach()
    H = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # N × C × C
    return torch.einsum("icn,icd,idm->nm", J, H, J) / N, theta


@pytest.mark.parametrize("batched", [True, False])
def test_cross_entropy_products_are_those_of_the_dense_generalised_gauss_newton_matrix(batched):
    (x, y), model = data(), network()
    G, theta = dense_cross_entropy_ggn(model, x, y)
    V = torch.randn(theta.numel(), 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    products = GaussNewtonProducts(Outputs(model(x), y, "cross_entropy"), list(model.parameters()), batched=batched)
    torch.testing.assert_close(products.matmat(V), G @ V)
    torch.testing.assert_close(products.matvec(V[:, 0]), G @ V[:, 0])
    torch.testing.assert_close(products.gradient, torch.func.grad(
        lambda t: F.cross_entropy(outputs_of(model, x)(t), y))(theta))
    assert torch.linalg.eigvalsh(G).min() >= -1e-12  # positive semi-definite, as the Hessian need not be
    hessian = torch.func.hessian(lambda t: F.cross_entropy(outputs_of(model, x)(t), y))(theta)
    assert not torch.allclose(hessian, G)  # the network's own curvature is left out


def test_squared_error_outputs_give_the_products_of_their_residuals():
    (x, _), model = data(), network()
    targets = torch.randn(N, CLASSES, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    V = torch.randn(sum(p.numel() for p in model.parameters()), 3, dtype=torch.float64)
    as_outputs = GaussNewtonProducts(Outputs(model(x), targets, "squared_error"), list(model.parameters()))
    as_residuals = GaussNewtonProducts(Residuals(model(x) - targets), list(model.parameters()))
    torch.testing.assert_close(as_outputs.matmat(V), as_residuals.matmat(V))
    torch.testing.assert_close(as_outputs.gradient, as_residuals.gradient)
    assert Outputs(model(x), targets, "squared_error").loss().item() == pytest.approx(
        Residuals(model(x) - targets).loss().item())


def trained(curvature, route, steps=8, **options):
    """Losses and parameters of KryBall on the cross-entropy of one batch, the closure returning ``route``."""
    (x, y), model = data(), network()
    opt = KryBall(model.parameters(), curvature=curvature, **options)
    torch.manual_seed(3)  # the sub-batch sampler's seed

    def closure(indices=None):
        chosen = slice(None) if indices is None else indices
        logits = model(x[chosen])
        if route == "outputs":
            return Outputs(logits, y[chosen], "cross_entropy")
        return F.cross_entropy(logits, y[chosen], reduction="none")

    losses = [opt.step(closure).item() for _ in range(steps)]
    return losses, [p.detach().clone() for p in model.parameters()], opt


@pytest.mark.parametrize("options", [{}, dict(curvature_batch=4, krylov_dim=3, directions=("adam",))],
                         ids=["whole batch", "sub-batch"])
def test_auto_takes_gauss_newton_steps_from_outputs_and_the_hessians_from_a_loss(options):
    losses, params, opt = trained("auto", "outputs", **options)
    assert losses[-1] < losses[0]
    gauss_newton = trained("gauss_newton", "outputs", **options)
    assert gauss_newton[0] == losses  # "auto" given outputs is the Gauss–Newton matrix
    hessian = trained("auto", "loss", **options)
    assert hessian[0][0] == pytest.approx(losses[0])  # the same loss at the start …
    assert hessian[0][1:] != losses[1:]  # … and other steps: other curvature
    if options:
        assert opt.last_step.loss_evals == 3  # its sub-batch was evaluated


def test_a_framework_closure_gives_outputs_through_curvature_examples():
    (x, y), model = data(), network()
    opt = KryBall(model.parameters(), curvature="auto", curvature_batch=4)
    for _ in range(3):
        opt.step(lambda: Outputs(model(curvature_examples(x, y)[0]), curvature_examples(x, y)[1], "cross_entropy"))
    assert opt.last_step.loss_evals >= 2 and opt.totals["loss_evals"] > 2 * 3


@pytest.mark.parametrize("values, targets, loss, match", [
    (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), "hinge", "loss must be one of"),
    (torch.zeros(4, 3), torch.zeros(5, dtype=torch.long), "cross_entropy", "one row per output"),
    (torch.zeros(4, 3), torch.zeros(4, 3), "cross_entropy", "class indices"),
    (torch.zeros(4, 3), torch.zeros(4, 2), "squared_error", "shaped like the outputs"),
])
def test_outputs_refuse_what_their_loss_cannot_take_in_one_line(values, targets, loss, match):
    with pytest.raises(ValueError, match=match):
        Outputs(values, targets, loss)
    with pytest.raises(TypeError, match="examples along its first dimension"):
        Outputs(torch.tensor(1.0), targets, "squared_error")


def test_data_parallel_kryball_takes_outputs_as_their_losses():
    """DistributedKryBall reads "auto" as the Hessian (its shards' losses are weighted sums): Outputs are their
    per-example losses there, the same steps as the cross-entropy's."""
    ranks = run_in_processes(shards_of_outputs, 1)
    (x, y), model = data(), network()
    opt = KryBall(model.parameters())
    for _ in range(3):
        opt.step(lambda: F.cross_entropy(model(x), y))
    assert all(torch.allclose(a, b) for a, b in zip(ranks[0], model.parameters()))


def shards_of_outputs(rank):
    (x, y), model = data(), network()
    opt = DistributedKryBall(model.parameters(), curvature="auto")
    for _ in range(3):
        opt.step(lambda: Outputs(model(x), y, "cross_entropy"))
    return [p.detach().clone() for p in model.parameters()]
