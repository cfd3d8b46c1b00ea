"""KryBall as an optimiser: convergence, closures, state, bad input, counts, devices."""

import copy
import dataclasses
import inspect
import io
import math
import pickle

import pytest
import torch

from kryball import HYPERPARAMETERS, KryBall, Options, Status
from kryball.curvature import HessianVectorProducts
from kryball.krylov import lanczos
from kryball.subspace import extend_basis
from kryball.trust_region import SHRINK_FACTOR


def rosenbrock(xy):
    return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2


def blobs(n=200, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=generator)
    y = ((x[:, 0] * x[:, 1]) > 0).long()  # XOR-like quadrants: needs the hidden layer
    return x, y


def mlp(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Softplus(), torch.nn.Linear(16, 2)).to(dtype)


def test_converges_on_deterministic_rosenbrock():
    xy = torch.nn.Parameter(torch.tensor([-1.5, 2.0], dtype=torch.float64))
    opt = KryBall([xy])
    for _ in range(100):
        opt.step(lambda: rosenbrock(xy))
    assert rosenbrock(xy).item() < 1e-12
    torch.testing.assert_close(xy.detach(), torch.ones(2, dtype=torch.float64), atol=1e-6, rtol=0)


def test_converges_on_an_ill_conditioned_quadratic():
    generator = torch.Generator().manual_seed(0)
    V, _ = torch.linalg.qr(torch.randn(20, 20, dtype=torch.float64, generator=generator))
    A = V @ torch.diag(torch.logspace(0, 3, 20, dtype=torch.float64)) @ V.T  # condition number 1e3
    c = torch.randn(20, dtype=torch.float64, generator=generator)
    solution = -torch.linalg.solve(A, c)
    x = torch.nn.Parameter(torch.zeros(20, dtype=torch.float64))
    opt = KryBall([x])
    for _ in range(200):
        opt.step(lambda: 0.5 * x @ A @ x + c @ x)
    assert (x.detach() - solution).norm().item() < 1e-4 * solution.norm().item()


def test_escapes_the_horse_saddle_where_newton_is_attracted():
    """Thesis fig. 4.2: from (1.5, 1.5) on x² − y², Newton jumps to the saddle (0, 0)."""
    start = torch.tensor([1.5, 1.5])
    H = torch.diag(torch.tensor([2.0, -2.0]))
    newton = start - torch.linalg.solve(H, torch.tensor([3.0, -3.0]))
    torch.testing.assert_close(newton, torch.zeros(2))

    xy = torch.nn.Parameter(start.clone())
    opt = KryBall([xy])
    for _ in range(8):
        opt.step(lambda: xy[0] ** 2 - xy[1] ** 2)
    assert abs(xy[0].item()) < 0.5 and xy[1].item() > 10  # x shrinks, y runs away from the saddle
    assert opt.totals["accepted"] == 8


def test_trains_a_network_without_a_learning_rate():
    x, y = blobs()
    model = mlp()
    opt = KryBall(model.parameters())
    loss_fn = torch.nn.functional.cross_entropy
    initial = loss_fn(model(x), y).item()
    for _ in range(60):
        opt.step(lambda: loss_fn(model(x), y))
    accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert loss_fn(model(x), y).item() < 0.2 * initial and accuracy >= 0.95


def test_standard_closure_with_zero_grad_and_backward_gives_the_same_steps():
    x, y = blobs()
    plain, standard = mlp(), mlp()
    opt_plain, opt_standard = KryBall(plain.parameters()), KryBall(standard.parameters())

    def standard_closure():
        opt_standard.zero_grad()
        loss = torch.nn.functional.cross_entropy(standard(x), y)
        loss.backward()
        return loss

    for _ in range(6):
        opt_plain.step(lambda: torch.nn.functional.cross_entropy(plain(x), y))
        opt_standard.step(standard_closure)
    for a, b in zip(plain.parameters(), standard.parameters()):
        assert torch.equal(a, b)
    assert opt_plain.totals == opt_standard.totals


def test_state_dict_round_trip_continues_exactly():
    x, y = blobs()
    model = mlp()
    opt = KryBall(model.parameters(), refresh=3)
    closure = lambda: torch.nn.functional.cross_entropy(model(x), y)  # noqa: E731
    for _ in range(4):  # stop mid refresh cycle, so the stale basis must be restored too
        opt.step(closure)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optim": opt.state_dict()}, buffer)
    for _ in range(5):
        opt.step(closure)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    restored = mlp(seed=123)
    restored.load_state_dict(saved["model"])
    opt2 = KryBall(restored.parameters(), refresh=3)
    opt2.load_state_dict(saved["optim"])
    assert opt2.totals["steps"] == 4
    for _ in range(5):
        opt2.step(lambda: torch.nn.functional.cross_entropy(restored(x), y))
    for a, b in zip(model.parameters(), restored.parameters()):
        assert torch.equal(a, b)
    assert opt.totals == opt2.totals
    assert opt.state_dict()["state"][0]["radius"] == opt2.state_dict()["state"][0]["radius"]


@pytest.mark.parametrize("name, value", [
    ("krylov_dim", 0), ("krylov_dim", 2.5), ("refresh", 0), ("momentum", 1.0), ("momentum", -0.1),
    ("initial_radius", 0.0), ("initial_radius", -1.0), ("max_radius", 0.5), ("min_radius", 0.0),
    ("min_radius", 2.0), ("eig_clip", -1e-3), ("accept_ratio", 0.3), ("max_retries", -1), ("refresh", True),
    ("momentum", "0.9"), ("eig_clip", float("nan")), ("reuse_curvature", 1.5), ("batched_hvps", "yes"),
])
def test_invalid_hyperparameters_are_refused_by_name(name, value):
    with pytest.raises(ValueError, match=name):
        KryBall([torch.nn.Parameter(torch.zeros(2))], **{name: value})


def test_keyword_construction_shows_and_keeps_the_options_defaults():
    signature = inspect.signature(KryBall)
    assert list(signature.parameters)[:2] == ["params", "model"]  # the model: not a hyperparameter
    assert {name: p.default for name, p in list(signature.parameters.items())[2:]} == HYPERPARAMETERS
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(signature.parameters.values())[1:])
    opt = KryBall([torch.nn.Parameter(torch.zeros(2))], krylov_dim=7, directions=["adam"], adam_betas=[0.5, 0.6])
    assert opt.defaults == {**HYPERPARAMETERS, "krylov_dim": 7, "directions": ("adam",), "adam_betas": (0.5, 0.6)}
    options = Options.of(opt.param_groups[0])
    assert options.krylov_dim == 7 and options.beyond_thesis() == ["directions"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.krylov_dim = 3


def test_unknown_hyperparameters_and_mismatched_groups_are_refused():
    with pytest.raises(TypeError, match="lr"):  # no learning rate to set
        KryBall([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="krylov_dim"):
        KryBall([{"params": [a]}, {"params": [b], "krylov_dim": 2}])
    with pytest.raises(ValueError, match="dtype"):
        KryBall([a, torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))]).step(lambda: a.sum())


def test_status_is_a_string_enum():
    assert [status.value for status in Status] == [
        "accepted", "rejected", "stationary", "non-finite loss", "non-finite gradient", "non-finite curvature"]
    xy = torch.nn.Parameter(torch.tensor([-1.5, 2.0], dtype=torch.float64))
    opt = KryBall([xy])
    opt.step(lambda: rosenbrock(xy))
    status = opt.last_step.status
    assert status is Status.ACCEPTED and status == "accepted" and isinstance(status, str)
    assert str(status) == f"{status}" == "accepted"
    assert pickle.loads(pickle.dumps(opt.last_step)) == opt.last_step


def test_step_without_a_closure_is_a_clear_error():
    opt = KryBall([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(RuntimeError, match="closure"):
        opt.step()
    with pytest.raises(TypeError, match="scalar"):
        opt.step(lambda: torch.zeros(3, 2, requires_grad=True))  # a 1-D tensor is one loss per example


def test_non_finite_trial_loss_is_a_rejection_that_leaves_parameters_exactly():
    xy = torch.nn.Parameter(torch.tensor([-1.5, 2.0]))
    opt = KryBall([xy])
    calls = []

    def closure():
        calls.append(1)
        loss = rosenbrock(xy)
        return loss if len(calls) % 2 == 1 else loss * math.nan  # every trial evaluation is NaN

    before = xy.detach().clone()
    opt.step(closure)
    assert torch.equal(xy.detach(), before)
    assert opt.last_step.status == "rejected" and not opt.last_step.accepted
    assert opt.last_step.radius == SHRINK_FACTOR * HYPERPARAMETERS["initial_radius"]


def test_non_finite_loss_or_gradient_at_the_current_point_changes_nothing():
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = KryBall([p])
    with pytest.warns(RuntimeWarning, match="non-finite loss"):
        opt.step(lambda: (p * math.inf).sum())
    assert opt.last_step.status == "non-finite loss" and torch.equal(p.detach(), torch.tensor([1.0, 2.0]))
    q = torch.nn.Parameter(torch.zeros(2))
    opt = KryBall([q])
    with pytest.warns(RuntimeWarning, match="non-finite gradient"):
        opt.step(lambda: q.abs().sqrt().sum())  # finite loss, NaN gradient at 0
    assert opt.last_step.status == "non-finite gradient" and torch.equal(q.detach(), torch.zeros(2))
    r = torch.nn.Parameter(torch.tensor([0.0, 1.0], dtype=torch.float64))
    opt = KryBall([r])
    for _ in range(2):  # finite gradient (0, -2), infinite curvature along the first coordinate
        opt.step(lambda: r[0].abs() ** 1.5 + (r[1] - 2) ** 2)
        assert opt.last_step.status == "non-finite curvature"
        assert torch.equal(r.detach(), torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert opt.flat_state.krylov_basis.numel() == 0 and opt.totals["hvps"] > 0  # no NaN basis kept


@pytest.mark.parametrize("loss_fn", [lambda p: (p**2).sum(), lambda p: p[0] ** 2 - p[1] ** 2])
def test_zero_gradient_does_not_divide_by_zero(loss_fn):
    p = torch.nn.Parameter(torch.zeros(2))
    opt = KryBall([p])
    for _ in range(3):
        opt.step(lambda: loss_fn(p))
    assert opt.last_step.status == "stationary" and torch.equal(p.detach(), torch.zeros(2))
    assert all(v is None or torch.isfinite(v).all() for v in opt.vectors.values())


def test_frozen_parameters_are_skipped_and_groups_share_one_vector():
    x, y = blobs()
    model = mlp()
    model[0].bias.requires_grad_(False)
    frozen = model[0].bias.detach().clone()
    opt = KryBall([{"params": model[0].parameters()}, {"params": model[2].parameters()}])
    for _ in range(3):
        opt.step(lambda: torch.nn.functional.cross_entropy(model(x), y))
    assert torch.equal(model[0].bias, frozen)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert opt.vectors["momentum"].numel() == trainable == opt.vectors["gradient"].numel()


def test_hvp_counts_on_refresh_and_other_steps():
    """Refresh: M products for Lanczos + 1 for the momentum; otherwise M + 1 per direction outside span(Q)."""
    x, y = blobs()
    model = mlp()
    opt = KryBall(model.parameters(), krylov_dim=4, refresh=3)
    counts, loss_evals = [], 0
    for _ in range(4):
        opt.step(lambda: torch.nn.functional.cross_entropy(model(x), y))
        counts.append((opt.last_step.refreshed, opt.last_step.hvps))
        loss_evals += opt.last_step.loss_evals
    # Step 0 has no momentum yet; at step 1 the momentum is g₀ ∈ span(Q), so only g costs extra.
    assert counts == [(True, 4), (False, 5), (False, 6), (True, 5)]
    assert opt.totals["hvps"] == 20 and opt.totals["gradient_evals"] == 4
    assert opt.totals["loss_evals"] == loss_evals


def test_reusing_curvature_pays_only_for_directions_outside_the_basis():
    x, y = blobs()
    counts = {}
    for reuse in (False, True):
        model = mlp()
        opt = KryBall(model.parameters(), krylov_dim=4, refresh=3, reuse_curvature=reuse)
        counts[reuse] = []
        for _ in range(6):
            opt.step(lambda: torch.nn.functional.cross_entropy(model(x), y))
            counts[reuse].append(opt.last_step.hvps)
        assert opt.last_step.status in ("accepted", "rejected")
    assert counts[False] == [4, 5, 6, 5, 6, 6]
    assert counts[True] == [4, 1, 2, 5, 2, 2]  # between refreshes: g (and z) only


def test_reusing_curvature_changes_nothing_on_a_quadratic():
    """H is constant on a quadratic, so the stale T is the fresh QᵀHQ: the steps must agree."""
    generator = torch.Generator().manual_seed(1)
    M = torch.randn(12, 12, dtype=torch.float64, generator=generator)
    A, c = M @ M.T + 0.1 * torch.eye(12, dtype=torch.float64), torch.randn(12, dtype=torch.float64, generator=generator)
    points = []
    for reuse in (False, True):
        x = torch.nn.Parameter(torch.zeros(12, dtype=torch.float64))
        opt = KryBall([x], krylov_dim=3, refresh=4, reuse_curvature=reuse)
        for _ in range(10):
            opt.step(lambda: 0.5 * x @ A @ x + c @ x)
        points.append(x.detach())
    torch.testing.assert_close(points[0], points[1], atol=1e-9, rtol=1e-9)


def test_known_lanczos_curvature_gives_the_same_subspace_matrix_as_direct_products():
    """The fast paths (T on refresh steps, batched products) against every product taken directly."""
    x, y = blobs()
    model = mlp(dtype=torch.float64)
    params = list(model.parameters())
    hvp = HessianVectorProducts(torch.nn.functional.cross_entropy(model(x.double()), y), params)
    Q, T = lanczos(hvp.matvec, hvp.gradient, 4)
    momentum = torch.randn(hvp.gradient.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    reused = extend_basis(hvp, Q, T, [hvp.gradient, momentum])
    looped = HessianVectorProducts(torch.nn.functional.cross_entropy(model(x.double()), y), params, batched=False)
    for direct in (extend_basis(hvp, Q, None, [hvp.gradient, momentum]),  # batched products
                   extend_basis(looped, Q, None, [hvp.gradient, momentum])):  # one by one
        torch.testing.assert_close(reused.basis, direct.basis)
        torch.testing.assert_close(reused.curvature, direct.curvature, atol=1e-10, rtol=1e-8)


def test_behaves_like_a_torch_optimizer():
    x, y = blobs()
    model = mlp()
    opt = KryBall(model.parameters(), krylov_dim=3)
    seen = []
    opt.register_step_pre_hook(lambda *_: seen.append("pre"))
    opt.register_step_post_hook(lambda *_: seen.append("post"))
    loss = opt.step(lambda: torch.nn.functional.cross_entropy(model(x), y))
    assert seen == ["pre", "post"] and loss.ndim == 0 and not loss.requires_grad
    assert "KryBall" in repr(opt) and "krylov_dim: 3" in repr(opt)
    clone = copy.deepcopy(opt)
    assert clone.totals == opt.totals and clone.last_step == opt.last_step
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dtype):
    x, y = blobs()
    results = []
    for device in ("cpu", "cuda"):
        model = mlp(dtype=dtype).to(device)
        opt = KryBall(model.parameters())
        xd, yd = x.to(device, dtype), y.to(device)
        for _ in range(10):
            opt.step(lambda: torch.nn.functional.cross_entropy(model(xd), yd))
        results.append((torch.nn.functional.cross_entropy(model(xd), yd).item(), opt.totals))
    assert results[0][1]["hvps"] == results[1][1]["hvps"]
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-2 if dtype == torch.float32 else 1e-8)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_kryball_plus_options_on_cuda_match_cpu():
    """The shipped KryBall+ options (conf/optim/kryball_plus.yaml) on CUDA: curvature on a sub-batch drawn by a CPU
    generator, Adam's direction and the previous step, and the batched products CUDA switches on by default."""
    x, y = blobs()
    results = []
    for device in ("cpu", "cuda"):
        model = mlp(dtype=torch.float64).to(device)
        torch.manual_seed(7)  # the sub-batch sampler's seed comes from the global generator
        opt = KryBall(model.parameters(), krylov_dim=3, refresh=3, curvature_batch=64,
                      directions=["adam", "previous_step"])
        xd, yd = x.to(device, torch.float64), y.to(device)

        def closure(indices=None):
            xb, yb = (xd, yd) if indices is None else (xd[indices], yd[indices])
            return torch.nn.functional.cross_entropy(model(xb), yb, reduction="none")

        for _ in range(10):
            opt.step(closure)
        draws = opt.flat_state.sampler.draws
        results.append((closure().mean().item(), opt.totals, draws))
    (cpu_loss, cpu_totals, cpu_draws), (cuda_loss, cuda_totals, cuda_draws) = results
    assert cuda_totals["hvps"] == cpu_totals["hvps"] and cuda_draws == cpu_draws == 10
    assert cuda_loss == pytest.approx(cpu_loss, rel=1e-8)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_state_dict_loads_onto_cuda_parameters():
    xy = torch.nn.Parameter(torch.tensor([-1.5, 2.0]))
    opt = KryBall([xy])
    opt.step(lambda: rosenbrock(xy))
    xy_cuda = torch.nn.Parameter(xy.detach().cuda())
    opt_cuda = KryBall([xy_cuda])
    opt_cuda.load_state_dict(opt.state_dict())
    assert opt_cuda.flat_state.momentum.is_cuda
    opt_cuda.step(lambda: rosenbrock(xy_cuda))
    assert opt_cuda.totals["steps"] == 2
