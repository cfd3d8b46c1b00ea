"""KryBall as a drop-in optimiser (docs/usage.md): closures as frameworks write them, one network per step (random
streams, running statistics), data parallelism, torch.compile, exception safety, torch's state hooks and bad input.
Each test names the behaviour a user of ``torch.optim.LBFGS`` expects."""

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kryball import KryBall, WholeBatchCurvature, curvature_examples
from kryball.distributed import DistributedKryBall
from suite.local_group import run_in_processes

PLUS = dict(krylov_dim=3, curvature_batch=8, directions=("adam", "previous_step"))  # KryBall+, on a small batch
STEPS = 6


def data(n=32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=generator), torch.randint(0, 3, (n,), generator=generator)


def mlp(seed=0, *layers):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), *layers, nn.Tanh(), nn.Linear(16, 3))


def params_of(model):
    return [p.detach().clone() for p in model.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


# Closures as frameworks write them.

def test_a_closure_that_calls_backward_and_returns_a_detached_loss_takes_the_steps_of_one_that_returns_it():
    """Lightning's automatic optimisation: zero_grad, training_step, backward, return loss.detach()."""
    x, y = data()
    runs = {}
    for kind in ("returns the loss", "framework"):
        model = mlp()
        opt = KryBall(model.parameters())

        def closure():
            if kind == "returns the loss":
                return F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return loss.detach()

        for _ in range(STEPS):
            opt.step(closure)
        runs[kind] = params_of(model), opt.totals
    assert same(runs["returns the loss"][0], runs["framework"][0])
    assert runs["returns the loss"][1] == runs["framework"][1]


def test_a_detached_loss_without_a_backward_is_refused_in_one_line():
    x, y = data()
    model = mlp()
    with pytest.raises(ValueError, match="not connected to the parameters"):
        KryBall(model.parameters()).step(lambda: F.cross_entropy(model(x), y).detach())


def test_a_detached_loss_that_is_not_the_one_differentiated_is_refused():
    x, y = data()
    model = mlp()

    def closure():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss.detach() * 2  # not what its backward differentiated

    with pytest.raises(ValueError, match="differs from the one it called backward on"):
        KryBall(model.parameters()).step(closure)


def test_after_a_step_grad_holds_the_gradient_at_the_point_the_step_started_from():
    """docs/design.md §3: the standard closure's gradient lands in .grad, although the trial point's closure call
    zeroes it again and its backward is skipped."""
    x, y = data()
    model = mlp()
    opt = KryBall(model.parameters())
    start = mlp()
    expected = torch.autograd.grad(F.cross_entropy(start(x), y), list(start.parameters()))

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    opt.step(closure)
    assert opt.last_step.loss_evals == 2  # a trial point was evaluated, and zeroed .grad
    assert all(torch.allclose(p.grad, g) for p, g in zip(model.parameters(), expected))
    assert not same(params_of(model), params_of(start))  # the step moved θ; .grad is still θ_t's


def test_curvature_examples_gives_a_wrapped_closure_the_sub_batch_of_one_that_takes_indices():
    """A framework's closure takes no argument (Lightning wraps it in a functools.partial): selecting the examples
    with kryball.curvature_examples takes exactly the steps of closure(indices)."""
    x, y = data()
    runs = {}
    for route in ("indices", "curvature_examples"):
        model = mlp()
        opt = KryBall(model.parameters(), **PLUS)
        torch.manual_seed(1)  # the sampler's seed

        def by_indices(indices=None):
            chosen = slice(None) if indices is None else indices
            return F.cross_entropy(model(x[chosen]), y[chosen], reduction="none")

        def training_step(batch):
            xb, yb = curvature_examples(*batch)
            return F.cross_entropy(model(xb), yb)

        for _ in range(STEPS):
            opt.step(by_indices if route == "indices" else functools.partial(training_step, (x, y)))
        runs[route] = params_of(model), opt.totals
    assert same(runs["indices"][0], runs["curvature_examples"][0])
    assert runs["indices"][1] == runs["curvature_examples"][1]
    assert runs["indices"][1]["loss_evals"] > 2 * STEPS  # each step evaluated a sub-batch


def test_curvature_examples_outside_a_step_returns_the_batch_as_it_is():
    x, y = data()
    xs, ys = curvature_examples(x, y)
    assert xs is x and ys is y
    assert curvature_examples(x) is x
    with pytest.raises(ValueError, match="same number of examples"):
        curvature_examples(x, y[:3])


def test_a_closure_that_cannot_give_a_sub_batch_is_told_once_what_to_do():
    x, y = data()
    model = mlp()
    opt = KryBall(model.parameters(), **PLUS)
    with pytest.warns(WholeBatchCurvature, match="kryball.curvature_examples") as caught:
        for _ in range(3):
            opt.step(lambda: F.cross_entropy(model(x), y))
    assert len([w for w in caught if w.category is WholeBatchCurvature]) == 1
    assert caught[0].filename == __file__  # it names the line that called step()


def test_closure_indices_must_return_one_loss_per_index():
    x, y = data()
    model = mlp()
    opt = KryBall(model.parameters(), **PLUS)
    with pytest.raises(ValueError, match=r"returned 32 per-example losses for 8 indices"):
        opt.step(lambda indices=None: F.cross_entropy(model(x), y, reduction="none"))


@pytest.mark.heavy
def test_lightning_automatic_optimisation_trains_with_kryball_plus_and_its_sub_batch():
    L = pytest.importorskip("lightning")
    x, y = data(64)

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = mlp(0, nn.BatchNorm1d(16))

        def training_step(self, batch, _):
            xb, yb = curvature_examples(*batch)
            return F.cross_entropy(self.net(xb), yb)

        def configure_optimizers(self):
            return KryBall(self.parameters(), model=self, **PLUS)

    module = Module()
    before = F.cross_entropy(module.net.eval()(x), y).item()
    trainer = L.Trainer(max_epochs=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    trainer.fit(module.train(), torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32))
    opt = trainer.optimizers[0]
    assert opt.totals["steps"] == 8
    assert opt.totals["loss_evals"] > 2 * 8  # the sub-batch was evaluated: Lightning's closure carried it
    assert int(module.net[1].num_batches_tracked) == 8  # once per step
    assert F.cross_entropy(module.net.eval()(x), y).item() < before


# One network per step: random streams and running statistics.

def masks_of_each_evaluation(same_randomness: bool, **options):
    """The dropout masks of every evaluation of two steps, per step."""
    x, y = data()
    model = mlp(0, nn.Dropout(0.3))
    opt = KryBall(model.parameters(), same_randomness=same_randomness, **options)
    seen = []
    model[1].register_forward_hook(lambda m, inputs, out: seen.append((out != 0).clone()))
    steps = []
    for _ in range(2):
        seen.clear()
        opt.step(lambda indices=None: F.cross_entropy(model(x if indices is None else x[indices]),
                                                      y if indices is None else y[indices], reduction="none"))
        steps.append(list(seen))
    return steps


def test_every_evaluation_of_a_step_sees_the_first_ones_dropout_masks():
    for step in masks_of_each_evaluation(True):
        assert len(step) == 2 and torch.equal(step[0], step[1])
    with_sub_batch = masks_of_each_evaluation(True, **PLUS)  # at θ, on the sub-batch, at the trial point
    assert all(len(step) == 3 and torch.equal(step[0], step[2]) for step in with_sub_batch)
    first, second = masks_of_each_evaluation(True)
    assert not torch.equal(first[0], second[0])  # each step draws afresh


def test_same_randomness_off_draws_afresh_at_every_evaluation():
    assert not any(torch.equal(step[0], step[1]) for step in masks_of_each_evaluation(False))


def test_the_random_stream_advances_once_per_step_and_not_at_all_for_a_closure_that_draws_nothing():
    x, y = data()
    model = mlp(0, nn.Dropout(0.3))
    opt = KryBall(model.parameters(), max_retries=2)
    torch.manual_seed(5)
    opt.step(lambda: F.cross_entropy(model(x), y))
    after_step = torch.get_rng_state()
    torch.manual_seed(5)
    model(x)  # one forward pass draws what the step's first evaluation drew
    assert torch.equal(after_step, torch.get_rng_state())
    plain = mlp()
    state = torch.get_rng_state()
    KryBall(plain.parameters()).step(lambda: F.cross_entropy(plain(x), y))
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("options", [{}, PLUS, dict(max_retries=3, initial_radius=100.0)],
                         ids=["thesis", "plus", "retries"])
def test_running_statistics_advance_once_per_step_from_the_first_evaluation(options):
    x, y = data()
    model = mlp(0, nn.BatchNorm1d(16))
    twin = mlp(0, nn.BatchNorm1d(16))  # one forward pass at each step's θ_t
    opt = KryBall(model.parameters(), model=model, **options)
    for _ in range(STEPS):
        twin.load_state_dict({**twin.state_dict(), **{k: v for k, v in model.state_dict().items()
                                                     if "running" not in k and "num_batches" not in k}})
        twin(x)
        opt.step(lambda indices=None: F.cross_entropy(model(x if indices is None else x[indices]),
                                                      y if indices is None else y[indices], reduction="none"))
        bn, reference = model[1], twin[1]
        assert torch.equal(bn.running_mean, reference.running_mean)
        assert torch.equal(bn.running_var, reference.running_var)
    assert int(model[1].num_batches_tracked) == STEPS


def test_batchnorm_in_training_mode_without_the_model_is_refused_in_one_line_and_eval_mode_is_not():
    x, y = data()
    model = mlp(0, nn.BatchNorm1d(16))
    before = params_of(model)
    with pytest.raises(ValueError, match=r"KryBall\(model.parameters\(\), model=model\)"):
        KryBall(model.parameters()).step(lambda: F.cross_entropy(model(x), y))
    assert same(before, params_of(model))
    model.eval()
    KryBall(model.parameters()).step(lambda: F.cross_entropy(model(x), y))
    with pytest.raises(TypeError, match="model must be the torch.nn.Module"):
        KryBall(model.parameters(), model=model.parameters())


# Data parallelism.

def in_two_processes(rank, kind):
    x, y = data(16)
    shard = slice(8 * rank, 8 * rank + 8)
    model = mlp(rank)  # different starts: DistributedKryBall takes process 0's
    trained = torch.nn.parallel.DistributedDataParallel(model) if kind == "ddp" else model
    try:
        opt = (KryBall if kind == "plain" else DistributedKryBall)(trained.parameters())
        for _ in range(4):
            opt.step(lambda: F.cross_entropy(trained(x[shard]), y[shard]))
    except RuntimeError as error:
        return str(error)
    return params_of(model)


@pytest.mark.heavy
def test_kryball_on_two_processes_is_refused_naming_distributed_kryball_which_trains_a_ddp_model():
    refusals = run_in_processes(in_two_processes, 2, "plain")
    assert all("use kryball.distributed.DistributedKryBall" in r and "\n" not in r for r in refusals)
    ranks = run_in_processes(in_two_processes, 2, "ddp")
    assert same(ranks[0], ranks[1])
    x, y = data(16)
    alone = mlp(0)
    opt = KryBall(alone.parameters())
    for _ in range(4):
        opt.step(lambda: F.cross_entropy(alone(x), y))
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(ranks[0], params_of(alone)))


# torch.compile.

@pytest.mark.parametrize("options, backward", [({}, False), (PLUS, False), ({}, True)],
                         ids=["thesis", "sub-batch", "closure calls backward"])
def test_a_compiled_model_is_refused_at_the_first_step_in_one_line_and_the_eager_backend_trains(options, backward):
    """AOTAutograd refuses a double backward, or (with a sub-batch, or the closure's own backward) a backward that
    keeps the graph of its donated buffers: either way one line."""
    x, y = data()
    model = torch.compile(mlp(), backend="aot_eager")
    before = params_of(model)
    opt = KryBall(model.parameters(), **options)

    def closure(indices=None):
        chosen = slice(None) if indices is None else indices
        loss = F.cross_entropy(model(x[chosen]), y[chosen])
        if backward:
            loss.backward()
        return loss

    with pytest.raises(RuntimeError, match=r"torch.compile'd model.*backend='eager'") as refused:
        opt.step(closure)
    assert "\n" not in str(refused.value)
    assert same(before, params_of(model)) and opt.totals["steps"] == 0
    eager = torch.compile(mlp(), backend="eager")
    opt = KryBall(eager.parameters())
    losses = [opt.step(lambda: F.cross_entropy(eager(x), y)).item() for _ in range(3)]
    assert losses[-1] < losses[0]


# Exception safety.

class Interrupted(Exception):
    pass


def raising_at(call: int, error: type[BaseException], model, x, y):
    """A closure of per-example losses (closure(indices) too) that raises at its ``call``-th call."""
    calls = 0

    def closure(indices=None):
        nonlocal calls
        calls += 1
        if calls == call:
            raise error("at call %d" % call)
        chosen = slice(None) if indices is None else indices
        return F.cross_entropy(model(x[chosen]), y[chosen], reduction="none")

    return closure


# Each with the closure calls of its second step: at θ, a sub-batch, the trial points (the retries' step is rejected
# and re-solved: at least three).
@pytest.mark.parametrize("options, calls", [({}, 2), (PLUS, 3),
                                            (dict(max_retries=3, initial_radius=1e3, directions=("adam",)), None)],
                         ids=["thesis", "sub-batch", "retries"])
@pytest.mark.parametrize("error", [Interrupted, KeyboardInterrupt])
def test_an_exception_at_any_evaluation_leaves_the_step_undone_and_is_raised_again(options, calls, error):
    x, y = data()
    model = mlp()
    opt = KryBall(model.parameters(), **options)
    opt.step(raising_at(0, error, model, x, y))  # a state with momentum, moments, a sampler
    twin = mlp()
    twin_opt = KryBall(twin.parameters(), **options)
    twin_opt.load_state_dict(opt.state_dict())
    twin.load_state_dict(model.state_dict())
    twin_opt.step(raising_at(0, error, twin, x, y))  # the step about to be interrupted, uninterrupted
    calls_per_step = twin_opt.last_step.loss_evals
    assert calls_per_step == calls if calls else calls_per_step >= 3 and twin_opt.last_step.retries > 0
    before_params, before_state = params_of(model), opt.state_dict()
    for call in range(1, calls_per_step + 1):
        with pytest.raises(error, match=f"at call {call}"):
            opt.step(raising_at(call, error, model, x, y))
        assert same(before_params, params_of(model))
        assert opt.totals == before_state["state"][0]["totals"]
        saved = opt.state_dict()["state"][0]
        assert saved.keys() == before_state["state"][0].keys()
        for key, value in before_state["state"][0].items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(saved[key], value), key
            else:
                assert saved[key] == value, key
    # and the run goes on as if nothing had happened
    opt.step(raising_at(0, error, model, x, y))
    assert same(params_of(model), params_of(twin)) and opt.totals == twin_opt.totals


def test_an_exception_at_the_first_step_leaves_no_state():
    x, y = data()
    model = mlp()
    opt = KryBall(model.parameters())
    with pytest.raises(Interrupted):
        opt.step(raising_at(2, Interrupted, model, x, y))
    assert not opt.state and opt.last_step is None and opt.totals["steps"] == 0


# State and torch's hooks.

def test_load_state_dict_runs_torchs_hooks_on_kryballs_state():
    x, y = data()
    model = mlp()
    opt = KryBall(model.parameters())
    opt.step(lambda: F.cross_entropy(model(x), y))
    saved = opt.state_dict()
    seen = {}

    def pre_hook(optimizer, state_dict):
        seen["pre"] = sorted(state_dict["state"][0])

    def post_hook(optimizer):
        optimizer.state["flag"] = True  # what a post-hook may write, as into any torch optimiser's state
        (state,) = [s for key, s in optimizer.state.items() if isinstance(key, torch.Tensor)]
        seen["post"] = state["radius"], "momentum" in state
        state["note"] = 1

    restored = KryBall(model.parameters())
    restored.register_load_state_dict_pre_hook(pre_hook)
    restored.register_load_state_dict_post_hook(post_hook)
    restored.load_state_dict(saved)
    assert "momentum" in seen["pre"] and seen["post"] == (saved["state"][0]["radius"], True)
    assert restored.flat_state["note"] == 1 and restored.state_dict()["state"][0]["note"] == 1  # kept and saved
    restored.step(lambda: F.cross_entropy(model(x), y))
    assert restored.totals["steps"] == 2


def test_the_state_of_theta_reads_like_a_torch_optimisers_state():
    x, y = data()
    model = mlp()
    opt = KryBall(model.parameters())
    opt.step(lambda: F.cross_entropy(model(x), y))
    state = opt.state[next(model.parameters())]
    assert "radius" in state and state["radius"] == state.get("radius") == opt.flat_state.radius
    assert dict(state.items())["momentum"] is state.momentum and len(state) == len(list(state))
    assert state.get("absent", 3) == 3 and "adam" not in state  # an option that is off holds nothing
    with pytest.raises(KeyError):
        del state["radius"]


# Bad input.

def test_a_learning_rate_or_an_unused_group_key_is_refused_by_name():
    model = mlp()
    with pytest.raises(TypeError, match="KryBall has no learning rate"):
        KryBall(model.parameters(), lr=1e-3)
    with pytest.raises(ValueError, match="parameter group 0 sets lr. KryBall has no learning rate"):
        KryBall([{"params": model.parameters(), "lr": 0.1}])
    with pytest.raises(ValueError, match="parameter group 1 sets 'weight_decay', which KryBall does not use"):
        KryBall([{"params": model[0].parameters()}, {"params": model[2].parameters(), "weight_decay": 0.5}])
    with pytest.raises(TypeError, match="KryBall has no option 'krylov_dimension'"):
        KryBall(model.parameters(), krylov_dimension=3)


def test_load_state_dict_keeps_the_model_and_a_pickled_copy_leaves_it_behind():
    import pickle

    x, y = data()
    model = mlp(0, nn.BatchNorm1d(16))
    opt = KryBall(model.parameters(), model=model)
    opt.step(lambda: F.cross_entropy(model(x), y))
    opt.load_state_dict(opt.state_dict())  # a resumed run
    assert opt.model is model
    opt.step(lambda: F.cross_entropy(model(x), y))
    assert pickle.loads(pickle.dumps(opt)).model is None


def test_an_exception_also_puts_the_models_buffers_back():
    x, y = data()
    model = mlp(0, nn.BatchNorm1d(16))
    opt = KryBall(model.parameters(), model=model)
    opt.step(raising_at(0, Interrupted, model, x, y))
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    for call in (1, 2):
        with pytest.raises(Interrupted):
            opt.step(raising_at(call, Interrupted, model, x, y))
        assert all(torch.equal(v, buffers[k]) for k, v in model.state_dict().items())
