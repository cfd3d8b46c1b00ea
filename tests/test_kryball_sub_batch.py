"""Curvature on a sub-batch (``curvature_batch``, kryball/closure.py): the products are those of the sub-batch's
loss while the gradient is the whole batch's, the step is the documented one with that Hessian, the subset is drawn
afresh each step and resumes exactly from a state_dict, and closures that cannot give a sub-batch keep working."""

import functools
import io
import warnings

import pytest
import torch

from kryball import KryBall
from kryball.curvature import HessianVectorProducts
from kryball.reference import dense_arnoldi, gram_schmidt
from kryball.saddle_free import sfn_direction
from kryball.closure import draw_generator, subset_size
from kryball.trust_region import solve_subproblem

N, B = 6, 20
DATA = torch.randn(B, N, dtype=torch.float64, generator=torch.Generator().manual_seed(3))


def example_losses(x, indices=None):
    """One nonconvex loss per example (rows of DATA); their mean has saddles and a coupled Hessian."""
    a = DATA if indices is None else DATA[indices]
    s = a @ x
    return s ** 4 / 4 - s ** 2 + (x ** 2).sum() / 2 + x.sum() / 3


def start(seed=0):
    return torch.nn.Parameter(torch.randn(N, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)))


def closure_of(x, seen=None):
    def closure(indices=None):
        if seen is not None and indices is not None:
            seen.append(indices.clone())
        return example_losses(x, indices)
    return closure


def dense(x, indices=None):
    """Gradient and Hessian of the mean loss of the batch (or of the examples ``indices``)."""
    f = lambda theta: example_losses(theta, indices).mean()  # noqa: E731
    theta = x.detach().clone()
    H = torch.autograd.functional.hessian(f, theta)
    return torch.func.grad(f)(theta), (H + H.T) / 2


def test_sub_batch_products_are_those_of_the_sub_batch_loss_beside_the_whole_gradient():
    x = start()
    indices = torch.tensor([1, 4, 7, 8, 15])
    g_full, _ = dense(x)
    _, H_sub = dense(x, indices)
    hvp = HessianVectorProducts(example_losses(x, indices).mean(), [x], gradient=g_full)
    V = torch.randn(N, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(hvp.matmat(V), H_sub @ V)
    assert hvp.gradient is g_full


@pytest.mark.parametrize("curvature_batch, expected", [(5, 5), (50, 20), (0.25, 5), (0.01, 1), (1.0, 20), (None, 20)])
def test_an_integer_counts_examples_and_a_float_is_a_fraction(curvature_batch, expected):
    assert subset_size(B, curvature_batch) == expected


def test_each_refresh_step_is_the_documented_step_with_the_sub_batch_hessian():
    x = start()
    seen = []
    opt = KryBall([x], refresh=1, krylov_dim=3, curvature_batch=5, directions=("adam",))
    closure = closure_of(x, seen)
    opt.step(closure)
    for _ in range(4):
        state = opt.flat_state
        indices = torch.randperm(B, generator=draw_generator(state.sampler))[:5]  # the documented draw
        g, _ = dense(x)
        _, H = dense(x, indices)
        Q = dense_arnoldi(H, g, 3)
        y, _ = sfn_direction(Q.T @ H @ Q, Q.T @ g, opt.defaults["eig_clip"])
        z = state.momentum.clone()
        beta1, beta2 = opt.defaults["adam_betas"]
        t = state.adam.t + 1
        m = beta1 * state.adam.m + (1 - beta1) * g
        v = beta2 * state.adam.v + (1 - beta2) * g * g
        adam = m / (1 - beta1 ** t) / ((v / (1 - beta2 ** t)).sqrt() + opt.defaults["adam_eps"])
        X = gram_schmidt([g, z, Q @ y, adam])
        expected = X @ solve_subproblem(X.T @ H @ X, X.T @ g, state.radius).step

        opt.step(closure)
        assert torch.equal(seen[-1], indices)
        torch.testing.assert_close(opt.vectors["step"], expected, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(opt.vectors["gradient"], g)  # the gradient is the whole batch's


def test_subsets_are_drawn_afresh_and_a_state_dict_round_trip_continues_exactly():
    torch.manual_seed(0)
    x, seen = start(), []
    opt = KryBall([x], refresh=2, krylov_dim=2, curvature_batch=0.25)
    for _ in range(3):
        opt.step(closure_of(x, seen))
    assert all(len(i) == 5 and len(set(i.tolist())) == 5 for i in seen)
    assert len({tuple(sorted(i.tolist())) for i in seen}) == 3  # not always the same examples
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)  # a copy: state_dict() shares the live state's tensors
    x2 = torch.nn.Parameter(x.detach().clone())
    after, resumed = [], []
    for _ in range(4):
        opt.step(closure_of(x, after))

    buffer.seek(0)
    opt2 = KryBall([x2], refresh=2, krylov_dim=2, curvature_batch=0.25)
    opt2.load_state_dict(torch.load(buffer, weights_only=True))
    torch.manual_seed(123)  # the sampler's own state decides the draws, not the global generator
    for _ in range(4):
        opt2.step(closure_of(x2, resumed))
    assert all(torch.equal(a, b) for a, b in zip(after, resumed))
    assert torch.equal(x, x2) and opt.totals == opt2.totals


def test_torch_manual_seed_makes_the_draws_repeatable():
    draws = []
    for _ in range(2):
        torch.manual_seed(7)
        x, seen = start(), []
        opt = KryBall([x], curvature_batch=4)
        for _ in range(3):
            opt.step(closure_of(x, seen))
        draws.append(seen)
    assert all(torch.equal(a, b) for a, b in zip(*draws))


def steps_of(closure_for, steps=6, **options):
    x = start()
    opt = KryBall([x], refresh=2, krylov_dim=2, **options)
    for _ in range(steps):
        opt.step(closure_for(x))
    return x, opt


def test_closures_without_a_sub_batch_get_the_whole_batch_curvature_unchanged():
    # A scalar loss has no examples to draw: the step is the one without the option, bit for bit.
    scalar = lambda x: lambda: example_losses(x).mean()  # noqa: E731
    assert torch.equal(steps_of(scalar)[0], steps_of(scalar, curvature_batch=5)[0])
    # A subset as large as the batch is the whole batch, and takes no second evaluation.
    plain, plain_opt = steps_of(closure_of)
    whole, whole_opt = steps_of(closure_of, curvature_batch=B)
    assert torch.equal(plain, whole) and plain_opt.totals == whole_opt.totals
    # Per-example losses without a way to select examples: the whole batch, and a warning that says why.
    no_argument = lambda x: lambda: example_losses(x)  # noqa: E731
    with pytest.warns(UserWarning, match="takes no argument"):
        x, _ = steps_of(no_argument, curvature_batch=5)
    assert torch.equal(x, plain)


def test_a_sub_batch_step_costs_one_more_evaluation_and_a_cheaper_graph():
    x, opt = steps_of(closure_of, steps=1, curvature_batch=5)
    # the whole batch's loss (plain gradient), the sub-batch's (gradient with graph), the trial point
    assert opt.totals["loss_evals"] == opt.last_step.loss_evals == 3 and opt.totals["gradient_evals"] == 1


def test_per_example_losses_are_averaged_like_a_scalar_loss():
    per_example, _ = steps_of(closure_of)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no option, no warning
        mean = steps_of(lambda x: lambda: example_losses(x).mean())[0]
    torch.testing.assert_close(per_example, mean, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("value", [0, -3, 0.0, 1.5, True, "64"])
def test_bad_curvature_batch_is_refused_by_name(value):
    with pytest.raises(ValueError, match="curvature_batch"):
        KryBall([start()], curvature_batch=value)


def test_the_suite_closure_gives_per_example_losses_and_sub_batches_only_to_a_sampling_kryball():
    from suite.step_closure import Counts, make_closure
    from tasks.classification import ClassificationTask

    task = ClassificationTask(torch.randn(16, 3), torch.randint(0, 2, (16,)), torch.randn(4, 3),
                              torch.randint(0, 2, (4,)), batch_size=8, seed=0, device="cpu")
    model = torch.nn.Linear(3, 2)
    batch = next(task.batches(1))
    loss_fn = functools.partial(task.loss, batch=batch)  # as suite/training.py builds it
    sampling = make_closure(model, loss_fn, KryBall(model.parameters(), curvature_batch=4), Counts())
    assert sampling().shape == (8,)
    indices = torch.tensor([0, 5])
    torch.testing.assert_close(sampling(indices), task.loss(model, batch, indices=indices, reduction="none"))
    torch.testing.assert_close(sampling().mean(), task.loss(model, batch))
    assert make_closure(model, loss_fn, KryBall(model.parameters()), Counts())().shape == ()
    plain = make_closure(model, lambda m: task.loss(m, batch), KryBall(model.parameters(), curvature_batch=4), Counts())
    assert plain().shape == ()  # a loss that cannot select examples: the mean, as before
