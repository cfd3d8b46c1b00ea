"""The checks of PyTorch's optimizer conformance suite (test/test_optim.py, ``TestOptimRenewed``) that apply to a
closure optimiser without a learning rate, written against KryBall's contract (README, "Use KryBall in your own
loop"; docs/design.md §3): state_dict round trips (``weights_only`` too), deepcopy, hooks, parameter groups and order,
dtype moves, zero gradients, parameters without a gradient."""

import copy
import io

import pytest
import torch

from kryball import KryBall

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: small models on a shared CPU


def mlp(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Softplus(), torch.nn.Linear(5, 2)).to(dtype)


X = torch.randn(24, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
Y = torch.randn(24, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


def loss_of(model):
    dtype = next(model.parameters()).dtype
    return lambda: torch.nn.functional.mse_loss(model(X.to(dtype)), Y.to(dtype))


def primed(steps=4, **options):
    model = mlp()
    opt = KryBall(model.parameters(), refresh=3, **options)  # 4 steps: mid refresh cycle, a stale basis is state
    for _ in range(steps):
        opt.step(loss_of(model))
    return model, opt


def twin(model):
    clone = mlp(seed=123, dtype=next(model.parameters()).dtype)
    clone.load_state_dict(model.state_dict())
    return clone


def assert_identical(a, b):
    """Equal nested state (tensors bit for bit, with their dtype; everything else by ==)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_identical(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_identical(x, y)
    else:
        assert a == b


def assert_same_run(model_a, opt_a, model_b, opt_b, steps=4):
    for _ in range(steps):
        opt_a.step(loss_of(model_a))
        opt_b.step(loss_of(model_b))
        assert opt_a.last_step == opt_b.last_step
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(a, b)
    assert opt_a.totals == opt_b.totals


def test_optimizer_can_be_printed():
    text = repr(KryBall(mlp().parameters(), krylov_dim=3))
    assert text.startswith("KryBall (") and "Parameter Group 0" in text and "krylov_dim: 3" in text


def test_state_dict_is_deterministic_and_loading_leaves_it_alone():
    model, opt = primed()
    clone = twin(model)
    opt_clone = KryBall(clone.parameters(), refresh=3)
    saved = copy.deepcopy(opt.state_dict())
    given = copy.deepcopy(opt.state_dict())
    opt_clone.load_state_dict(given)
    assert_identical(given, saved)  # loading did not modify the dict it was given
    assert_identical(opt_clone.state_dict(), opt.state_dict())  # equal parameters, not identical ones
    assert_same_run(model, opt, clone, opt_clone)


def test_state_dict_round_trips_through_weights_only_load():
    model, opt = primed(directions=("adam", "previous_step"), curvature_batch=6)
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert_identical(loaded, opt.state_dict())
    clone = twin(model)
    opt_clone = KryBall(clone.parameters(), refresh=3, directions=("adam", "previous_step"), curvature_batch=6)
    opt_clone.load_state_dict(loaded)
    assert_same_run(model, opt, clone, opt_clone)


def test_deepcopy_copies_all_public_attributes_and_continues_identically():
    model, opt = primed()

    def public(obj):
        return {key for key in obj.__dict__ if not key.startswith("_")}

    assert public(copy.deepcopy(opt)) == public(opt)
    copied, clone = copy.deepcopy((model, opt))  # one memo: the copy steps the copied model's parameters
    assert clone.last_step == opt.last_step and clone.totals == opt.totals
    assert all(p is q for p, q in zip(clone.param_groups[0]["params"], copied.parameters()))
    assert_same_run(model, opt, copied, clone)


def test_every_hook_kind_runs():
    model = mlp()
    opt = KryBall(model.parameters())
    seen = []
    opt.register_step_pre_hook(lambda *_: seen.append("step pre"))
    opt.register_step_post_hook(lambda *_: seen.append("step post"))
    opt.register_state_dict_pre_hook(lambda *_: seen.append("state_dict pre"))
    opt.register_state_dict_post_hook(lambda _, state_dict: seen.append("state_dict post") or state_dict)
    opt.register_load_state_dict_pre_hook(lambda *_: seen.append("load pre"))
    opt.register_load_state_dict_post_hook(lambda *_: seen.append("load post"))
    opt.register_load_state_dict_pre_hook(lambda *_: seen.append("load pre, prepended"), prepend=True)
    opt.step(loss_of(model))
    opt.load_state_dict(opt.state_dict())
    assert seen == ["step pre", "step post", "state_dict pre", "state_dict post", "load pre, prepended", "load pre",
                    "load post"]


def test_parameter_groups_form_one_vector():
    """Thesis §5.1.1: all groups are one flat θ, so splitting the parameters into groups changes nothing."""
    one, two = mlp(), mlp()
    opt_one = KryBall(one.parameters())
    opt_two = KryBall([{"params": two[0].parameters()}, {"params": two[2].parameters()}])
    assert_same_run(one, opt_one, two, opt_two)
    assert list(opt_two.state_dict()["state"]) == [0]


def test_parameter_order_does_not_change_the_steps():
    forward, backward = mlp(), mlp()
    opt_forward = KryBall(forward.parameters())
    opt_backward = KryBall(reversed(list(backward.parameters())))
    for _ in range(5):
        opt_forward.step(loss_of(forward))
        opt_backward.step(loss_of(backward))
    for a, b in zip(forward.parameters(), backward.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)  # only the summation order differs
    assert opt_forward.totals == opt_backward.totals


def test_a_state_loads_onto_parameters_of_another_dtype():
    model, opt = primed()
    single = mlp(dtype=torch.float32)
    single.load_state_dict(model.state_dict())
    opt_single = KryBall(single.parameters(), refresh=3)
    opt_single.load_state_dict(opt.state_dict())
    state = opt_single.state_dict()["state"][0]
    assert state["momentum"].dtype == state["krylov_basis"].dtype == torch.float32
    assert state["step"] == 4 and isinstance(state["step"], int)  # counts are not cast
    opt_single.step(loss_of(single))
    assert opt_single.totals["steps"] == 5


def test_a_zero_gradient_is_a_step_that_changes_nothing():
    w = torch.nn.Parameter(torch.ones(3))
    opt = KryBall([w])
    for _ in range(3):
        opt.step(lambda: (w * 0).sum())
    assert torch.equal(w.detach(), torch.ones(3)) and opt.last_step.status == "stationary"


def test_a_parameter_the_loss_does_not_use_stays_exactly_where_it_was():
    model = mlp()
    unused = torch.nn.Parameter(torch.randn(4, dtype=torch.float64))
    before = unused.detach().clone()
    opt = KryBall([*model.parameters(), unused])
    for _ in range(4):
        opt.step(loss_of(model))
    assert torch.equal(unused, before) and opt.totals["accepted"] > 0
    assert opt.vectors["gradient"][-4:].abs().sum() == 0


def test_parameters_without_requires_grad_are_left_alone():
    model = mlp()
    model[0].weight.requires_grad_(False)
    frozen = model[0].weight.detach().clone()
    opt = KryBall(model.parameters())
    for _ in range(3):
        opt.step(loss_of(model))
    assert torch.equal(model[0].weight, frozen) and opt.totals["accepted"] > 0
    assert list(opt.state_dict()["state"]) == [1]  # the state lives on the first trainable parameter


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad_clears_what_a_closure_left_in_grad(set_to_none):
    model = mlp()
    opt = KryBall(model.parameters())

    def closure():
        loss = loss_of(model)()
        loss.backward()
        return loss

    opt.step(closure)
    assert all(p.grad is not None for p in model.parameters())
    opt.zero_grad(set_to_none=set_to_none)
    assert all((p.grad is None) if set_to_none else torch.equal(p.grad, torch.zeros_like(p))
               for p in model.parameters())


def test_non_contiguous_parameters_step_like_contiguous_ones():
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(4, 3, 2, dtype=torch.float64, generator=generator)
    strided = torch.nn.Parameter(base[..., 0])  # a view with strides (6, 2): not contiguous
    contiguous = torch.nn.Parameter(base[..., 0].contiguous())
    assert not strided.is_contiguous()
    runs = []
    for w in (strided, contiguous):
        opt = KryBall([w])
        for _ in range(4):
            opt.step(lambda: (w ** 4).sum() + w.sum())
        runs.append((w.detach().clone(), opt.totals))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


def test_the_state_is_not_empty_after_a_step():
    _, opt = primed(steps=1)
    assert len(opt.state) == 1 and opt.state_dict()["state"][0]["step"] == 1


def test_a_state_of_other_parameters_is_refused_where_adam_refuses_it():
    """Adam fails on the first step after its state was loaded into parameters in another order (a size mismatch);
    KryBall, whose state is one flat vector, refuses it at the load, naming the parameter (nothing is loaded)."""
    model, opt = primed()
    adam = torch.optim.Adam(model.parameters())
    loss_of(model)().backward()
    adam.step()
    swapped = list(mlp().parameters())[::-1]
    other_adam = torch.optim.Adam(swapped)
    other_adam.load_state_dict(adam.state_dict())
    for p in swapped:
        p.grad = torch.ones_like(p)
    with pytest.raises(RuntimeError, match="size"):
        other_adam.step()
    other = KryBall(swapped, refresh=3)
    with pytest.raises(ValueError, match="state_dict is for other parameters"):
        other.load_state_dict(opt.state_dict())
    assert other.state_dict()["state"] == {}
