"""The closure contract of KryBall (README, "Use KryBall in your own loop"; docs/design.md §3):
what a closure may do, what happens to ``.grad``, other threads, bad losses, schedulers."""

import math
import threading
import warnings

import pytest
import torch

from kryball import KryBall

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py: small models on a shared CPU


def small_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Softplus(), torch.nn.Linear(4, 1)).double()


def data():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(32, 3, dtype=torch.float64, generator=generator), torch.randn(32, 1, dtype=torch.float64,
                                                                                     generator=generator)


def mse(model, x, y):
    return torch.nn.functional.mse_loss(model(x), y)


@pytest.mark.parametrize("backward", ["tensor_method", "autograd_function", "imported_function"])
def test_a_closure_may_call_backward_in_any_spelling(backward):
    from torch.autograd import backward as imported_backward

    call = {"tensor_method": lambda loss: loss.backward(),
            "autograd_function": lambda loss: torch.autograd.backward(loss),
            "imported_function": lambda loss: imported_backward(loss)}[backward]
    x, y = data()
    plain, standard = small_model(), small_model()
    opt_plain, opt_standard = KryBall(plain.parameters()), KryBall(standard.parameters())
    gradients = []

    def standard_closure():
        opt_standard.zero_grad()
        loss = mse(standard, x, y)
        call(loss)
        gradients.append(standard[0].weight.grad)
        return loss

    for _ in range(4):
        opt_plain.step(lambda: mse(plain, x, y))
        expected = torch.autograd.grad(mse(standard, x, y), standard[0].weight)[0]
        gradients.clear()
        opt_standard.step(standard_closure)
        # The first evaluation's gradient is the gradient at θ_t; trial evaluations do no backward at all.
        torch.testing.assert_close(gradients[0], expected)
        assert len(gradients) == opt_standard.last_step.loss_evals and all(g is None for g in gradients[1:])
    for a, b in zip(plain.parameters(), standard.parameters()):
        assert torch.equal(a, b)


def test_backward_passes_of_other_threads_are_untouched_while_kryball_steps():
    """A second thread trains an unrelated model, calling backward() while KryBall's closure runs: every one of
    its backward passes must produce a gradient, including those made during gradient-free trial evaluations."""
    x, y = data()
    model = small_model()
    opt = KryBall(model.parameters())
    other = torch.nn.Parameter(torch.ones(4))
    requests, done = threading.Semaphore(0), threading.Semaphore(0)
    outcomes = []  # per backward of the other thread: did it produce the gradient 2·other?
    stop = threading.Event()

    def other_thread():
        while not stop.is_set():
            if not requests.acquire(timeout=0.05):
                continue
            other.grad = None
            (other ** 2).sum().backward()
            outcomes.append(other.grad is not None and torch.equal(other.grad, 2 * other.detach()))
            done.release()

    def closure():
        requests.release()  # let the other thread do a backward pass now, while this closure is being evaluated
        assert done.acquire(timeout=10)
        return mse(model, x, y)

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        for _ in range(5):
            opt.step(closure)
    finally:
        stop.set()
        thread.join()
    # Every closure call made one backward of the other thread; most steps also tried a point without gradient.
    assert opt.totals["loss_evals"] == len(outcomes) > opt.totals["steps"] + 2
    assert all(outcomes), f"{outcomes.count(False)} of {len(outcomes)} backward passes of the other thread lost"


def test_backward_outside_a_closure_is_the_real_one_again():
    x, y = data()
    model = small_model()
    KryBall(model.parameters()).step(lambda: mse(model, x, y))
    loss = mse(model, x, y)
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):  # the graph was freed: no retain_graph forced
        loss.backward()


@pytest.mark.parametrize("loss", [
    pytest.param(lambda w: torch.tensor(1.0), id="constant"),
    pytest.param(lambda w: (w ** 2).sum().detach(), id="detached"),
    pytest.param(lambda w: torch.tensor(3), id="integer"),
    pytest.param(lambda w: (w ** 2).sum().round().long(), id="integer-cast"),
])
def test_a_loss_without_a_graph_is_refused_in_kryballs_words(loss):
    w = torch.nn.Parameter(torch.randn(3))
    with pytest.raises(ValueError, match="not connected to the parameters by an autograd graph") as error:
        KryBall([w]).step(lambda: loss(w))
    assert "\n" not in str(error.value)


def test_a_non_finite_loss_at_the_first_step_warns_once():
    w = torch.nn.Parameter(torch.ones(3))
    opt = KryBall([w])
    with pytest.warns(RuntimeWarning, match="non-finite loss") as caught:
        for _ in range(3):
            opt.step(lambda: (w ** 2).sum() * math.nan)
    assert len([c for c in caught if "non-finite" in str(c.message)]) == 1
    assert opt.last_step.status == "non-finite loss" and torch.equal(w.detach(), torch.ones(3))


def test_a_finite_run_does_not_warn():
    x, y = data()
    model = small_model()
    opt = KryBall(model.parameters())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            opt.step(lambda: mse(model, x, y))


SCHEDULERS = {
    "StepLR": lambda opt: torch.optim.lr_scheduler.StepLR(opt, 10),
    "LambdaLR": lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.9 ** epoch),
    "CosineAnnealingLR": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10),
    "ReduceLROnPlateau": lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt),
    "CyclicLR": lambda opt: torch.optim.lr_scheduler.CyclicLR(opt, 0.1, 1.0, cycle_momentum=False),
    "OneCycleLR": lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, 1.0, total_steps=10, cycle_momentum=False),
}


@pytest.mark.parametrize("make", SCHEDULERS.values(), ids=SCHEDULERS.keys())
def test_a_learning_rate_scheduler_is_refused_with_one_message(make):
    model = small_model()
    opt = KryBall(model.parameters())
    fresh = KryBall(small_model(1).parameters())
    fresh.load_state_dict(opt.state_dict())  # load_state_dict builds new param_groups: still refused
    for optimizer in (opt, fresh):
        with pytest.raises(KeyError, match="KryBall has no learning rate") as error:
            make(optimizer)
        assert "\n" not in str(error.value) and not str(error.value).startswith("'")
        group = optimizer.param_groups[0]
        assert "lr" not in group and group.get("lr") is None  # code that asks politely gets no learning rate
