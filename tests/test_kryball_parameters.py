"""Which tensors KryBall steps, and what it says about those it cannot: the trainable set (frozen mid-run),
duplicates, sparse gradients, complex, sparse, meta and mixed parameters, dtype moves."""

import io
import warnings

import pytest
import torch

from kryball import KryBall

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: small models on a shared CPU


def two_params(dtype=torch.float64):
    generator = torch.Generator().manual_seed(0)
    a = torch.nn.Parameter(torch.randn(3, dtype=dtype, generator=generator))
    b = torch.nn.Parameter(torch.randn(2, dtype=dtype, generator=generator))
    return a, b


def coupled(a, b):
    """Non-quadratic in both tensors, so that every step moves both."""
    return (a ** 4).sum() + (b ** 4).sum() + (a[:2] * b).sum() + a.sum()


@pytest.mark.parametrize("which", [0, 1])
def test_freezing_a_parameter_mid_run_is_refused_naming_it_and_unfreezing_continues(which):
    a, b = two_params()
    opt = KryBall([a, b])
    for _ in range(3):
        opt.step(lambda: coupled(a, b))
    radius, totals = opt.state_dict()["state"][0]["radius"], opt.totals
    frozen = (a, b)[which]
    frozen.requires_grad_(False)
    before = (a.detach().clone(), b.detach().clone())
    with pytest.raises(ValueError, match=f"parameter {which} of group 0 .*was frozen") as error:
        opt.step(lambda: coupled(a, b))
    assert "new KryBall" in str(error.value) and "\n" not in str(error.value)
    assert torch.equal(a, before[0]) and torch.equal(b, before[1])
    assert opt.totals == totals  # nothing was reset
    frozen.requires_grad_(True)  # the set it was built for again: the run goes on from where it was
    opt.step(lambda: coupled(a, b))
    assert opt.totals["steps"] == totals["steps"] + 1
    assert opt.state_dict()["state"][0]["radius"] in (radius / 4, radius, 2 * radius)


def test_unfreezing_a_parameter_mid_run_is_refused_naming_it():
    a, b = two_params()
    a.requires_grad_(False)
    opt = KryBall([a, b])
    opt.step(lambda: coupled(a, b))
    a.requires_grad_(True)
    with pytest.raises(ValueError, match="parameter 0 of group 0 .*was unfrozen"):
        opt.step(lambda: coupled(a, b))


def test_swapping_frozen_parameters_of_equal_size_is_refused():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    b.requires_grad_(False)
    opt = KryBall([a, b])
    opt.step(lambda: (a ** 4).sum() + (b ** 2).sum())
    a.requires_grad_(False)
    b.requires_grad_(True)
    with pytest.raises(ValueError, match="parameter 0 of group 0 .*was frozen.*parameter 1 of group 0 .*was unfrozen"):
        opt.step(lambda: (a ** 4).sum() + (b ** 2).sum())


def test_a_parameter_group_added_after_stepping_is_refused_as_such():
    a, b = two_params()
    opt = KryBall([a])
    opt.step(lambda: coupled(a, b))
    steps = opt.totals["steps"]
    with pytest.raises(ValueError, match="KryBall has stepped.*group 1 added now") as error:
        opt.add_param_group({"params": [b]})
    assert "unfrozen" not in str(error.value) and "\n" not in str(error.value)
    assert len(opt.param_groups) == 1  # nothing was added: the run goes on
    opt.step(lambda: coupled(a, b))
    assert opt.totals["steps"] == steps + 1


def test_a_group_added_before_the_first_step_joins():
    a, b = two_params()
    opt = KryBall([a])
    opt.add_param_group({"params": [b]})
    opt.step(lambda: coupled(a, b))
    assert opt.vectors["gradient"].numel() == a.numel() + b.numel()


def saved_state(params, steps=3):
    opt = KryBall(params)
    for _ in range(steps):
        opt.step(lambda: coupled(*params) if len(params) == 2 else coupled(params[0], params[0][:2]))
    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_a_state_dict_loaded_into_parameters_in_another_order_is_refused_naming_the_first_mismatch():
    a, b = two_params()
    saved = saved_state([a, b])
    opt = KryBall([b, a])
    with pytest.raises(ValueError, match=r"in the place of parameter 0 of group 0 \(shape \(2,\)\) had shape \(3,\)"):
        opt.load_state_dict(saved)
    assert opt.state_dict()["state"] == {} and opt.totals["steps"] == 0  # nothing was loaded


def test_a_state_dict_loaded_into_another_set_of_parameters_is_refused():
    a, b = two_params()
    saved = saved_state([a, b])
    with pytest.raises(ValueError, match="for other parameters"):
        KryBall([a, b, torch.nn.Parameter(torch.ones(4, dtype=torch.float64))]).load_state_dict(saved)
    wider = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"parameter 1 of group 0 \(shape \(4,\)\) had shape \(2,\)"):
        KryBall([a, wider]).load_state_dict(saved)
    groups = KryBall([{"params": [a]}, {"params": [b]}])  # the same tensors in two groups: the same vector θ
    groups.load_state_dict({**saved, "param_groups": [{**saved["param_groups"][0], "params": [0]},
                                                      {**saved["param_groups"][0], "params": [1]}]})
    assert groups.totals == saved["state"][0]["totals"]


def test_named_parameters_are_named_in_the_message():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Softplus(), torch.nn.Linear(2, 1))
    opt = KryBall(model.named_parameters())
    x = torch.randn(8, 2)
    opt.step(lambda: model(x).pow(2).mean())
    model[2].bias.requires_grad_(False)
    with pytest.raises(ValueError, match=r"'2\.bias'.*was frozen"):
        opt.step(lambda: model(x).pow(2).mean())


def test_a_state_saved_with_the_first_parameter_frozen_still_continues_exactly():
    """The state lives on the first trainable parameter: a state_dict whose first parameter is frozen loads there."""
    a, b = two_params()
    a.requires_grad_(False)
    opt = KryBall([a, b])
    for _ in range(3):
        opt.step(lambda: coupled(a, b))
    saved = opt.state_dict()
    assert list(saved["state"]) == [1]
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    a2, b2 = (torch.nn.Parameter(t.detach().clone(), requires_grad=t.requires_grad) for t in (a, b))
    opt2 = KryBall([a2, b2])
    opt2.load_state_dict(saved)
    for _ in range(3):
        opt.step(lambda: coupled(a, b))
        opt2.step(lambda: coupled(a2, b2))
        assert opt.last_step == opt2.last_step
    assert torch.equal(b, b2) and opt.totals == opt2.totals


def test_duplicate_parameters_are_refused_by_position():
    w = torch.nn.Parameter(torch.ones(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our error, not torch's "duplicate parameters" warning first
        with pytest.raises(ValueError, match="parameter 1 of group 0 is parameter 0 of group 0 again"):
            KryBall([w, w])
        opt = KryBall([w])
        with pytest.raises(ValueError, match="parameter 1 of group 1 is parameter 0 of group 1 again"):
            opt.add_param_group({"params": [torch.nn.Parameter(torch.ones(1))] * 2})
    assert len(opt.param_groups) == 1  # the refused group was not kept


def test_sparse_gradients_give_the_steps_of_dense_ones():
    steps = {}
    for sparse in (False, True):
        torch.manual_seed(0)
        embedding = torch.nn.Embedding(10, 3, sparse=sparse).double()
        head = torch.nn.Linear(3, 1).double()
        opt = KryBall([*embedding.parameters(), *head.parameters()])
        index = torch.tensor([1, 2, 2, 7])
        target = torch.tensor([[0.5], [-1.0], [-1.0], [2.0]], dtype=torch.float64)
        for _ in range(4):
            opt.step(lambda: torch.nn.functional.softplus(head(embedding(index)) - target).pow(2).mean())
        steps[sparse] = (embedding.weight.detach().clone(), opt.totals, opt.last_step.status)
    torch.testing.assert_close(steps[True][0], steps[False][0])
    assert steps[True][1:] == steps[False][1:]


@pytest.mark.parametrize("make, message", [
    (lambda: torch.randn(3, dtype=torch.complex64),
     r"real floating-point parameters: parameter 0 of group 0 .*complex64"),
    (lambda: torch.randn(3, 3).to_sparse(), r"dense parameters: parameter 0 of group 0 .*sparse_coo"),
    (lambda: torch.randn(3, device="meta"), r"parameter 0 of group 0 .*on the meta device"),
], ids=["complex", "sparse", "meta"])
def test_parameters_kryball_cannot_step_are_named_with_the_reason(make, message):
    w = torch.nn.Parameter(make())
    with pytest.raises(ValueError, match=message) as error:
        KryBall([w]).step(lambda: w.abs().sum() if not w.is_sparse else torch.sparse.sum(w))
    assert "\n" not in str(error.value)


def test_mixed_dtypes_name_both_parameters():
    a = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"parameter 1 of group 0 .*float64 on cpu.*parameter 0 of group 0 .*float32"):
        KryBall([a, b]).step(lambda: a.sum() + b.sum())


def test_moving_the_model_to_another_dtype_mid_run_moves_the_state():
    model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Softplus(), torch.nn.Linear(4, 1))
    x = torch.randn(16, 2)
    opt = KryBall(model.parameters())
    for _ in range(2):
        opt.step(lambda: model(x).pow(2).mean())
    model.double()
    for _ in range(2):
        opt.step(lambda: model(x.double()).pow(2).mean())
    state = opt.state_dict()["state"][0]
    assert state["momentum"].dtype == state["krylov_basis"].dtype == torch.float64
    assert opt.totals["steps"] == 4 and opt.last_step.status in ("accepted", "rejected", "stationary")
