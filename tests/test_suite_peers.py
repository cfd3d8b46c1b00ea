"""The peer optimisers beyond the thesis (conf/optim/{adahessian,sophiah,soap,muon,trust_krylov}.yaml, and the
learning-rate-free prodigy, dadapt_adam, dadapt_sgd, schedule_free_adamw; suite/optimisers/): every one runs through
train.py's loop on every task where it applies and is refused in one line where it does not; HVPs are counted as the
optimisers take them; Muon's parameter groups; the learning-rate-free peers at their authors' defaults."""

import math
import re
import subprocess
import sys

import pytest
import torch
from conftest import REPO, compose_config, tiny_overrides

from models.cnn import CNN
from models.mlp import MLP
from suite.config import ConfigError
from suite.experiment import build_experiment
from suite.optimisers.flat_objective import FlatObjective
from suite.optimisers.muon import hidden_weights, hidden_weights_apart
from suite.optimisers.trust_krylov import TrustKrylov
from suite.step_closure import Counts, make_closure
from suite.training import run

pytestmark = pytest.mark.usefixtures("one_thread")

HUTCHINSON = ("adahessian", "sophiah")  # HVPs inside step(), observed by the closure
TAKES_HVPS = (*HUTCHINSON, "trust_krylov")
# Where each peer applies, with the tiny-size overrides that keep it applicable (Muon needs a hidden
# weight matrix: a layer between the first and the last).
WORKLOADS = ("pinn_convection", "pinn_reaction", "pinn_wave", "image_fit")  # beyond the thesis's tasks
APPLIES = {
    "adahessian": {"mnist1d": [], "xor": [], "rosenbrock": [], "rahimi_recht": [], "saddle": [],
                   "cifar10_cnn": [], "cifar10_resnet": [], **dict.fromkeys(WORKLOADS, [])},
    "sophiah": {"mnist1d": [], "xor": [], "rosenbrock": [], "rahimi_recht": [], "saddle": [], "cifar10_cnn": [],
                "cifar10_resnet": [], **dict.fromkeys(WORKLOADS, [])},
    "soap": {"mnist1d": [], "xor": [], "rosenbrock": [], "rahimi_recht": [], "saddle": [], "cifar10_cnn": [],
             "cifar10_resnet": [], **dict.fromkeys(WORKLOADS, [])},
    "muon": {"mnist1d": ["model.hidden_sizes=[16,16]"], "xor": [], "rahimi_recht": ["model.hidden_sizes=[4,4]"],
             "cifar10_cnn": [], "cifar10_resnet": [], **dict.fromkeys(WORKLOADS, [])},
    "trust_krylov": {"rosenbrock": [], "rahimi_recht": [], "xor": [], "saddle": [], **dict.fromkeys(WORKLOADS, [])},
}
# The learning-rate-free peers (first-order: one gradient a step) apply wherever a gradient does; one short run
# each on XOR, and at the configs' values. Every task's run is the same loop: test_suite_runs.py covers the tasks.
LEARNING_RATE_FREE = ("prodigy", "dadapt_adam", "dadapt_sgd", "schedule_free_adamw")
APPLIES.update({optim: {"xor": []} for optim in LEARNING_RATE_FREE})
REFUSED = [("muon", "rosenbrock", "the model ParameterVector has no hidden weight matrix"),
           ("muon", "rahimi_recht", "the model DeepLinear has no hidden weight matrix (2 weight layers)"),
           ("trust_krylov", "mnist1d", "it is a full-batch method and the task MNIST1D has more than one batch")]


@pytest.mark.parametrize(("optim", "task"), [(o, t) for o, tasks in APPLIES.items() for t in tasks])
def test_every_peer_runs_where_it_applies(optim, task, cifar_dir, tmp_path):
    cfg = compose_config([f"task={task}", f"optim={optim}", "epochs=2", "stop_on_convergence=false",
                          *tiny_overrides(task, cifar_dir), *APPLIES[optim][task]])
    summary = run(cfg, tmp_path)
    assert summary.status in ("completed", "converged"), summary.error
    assert summary.epochs_run == 2 and summary.gradient_evals >= 2 and summary.loss_evals >= 2
    assert (summary.hvps > 0) == (optim in TAKES_HVPS)


@pytest.mark.parametrize(("optim", "task", "why"), REFUSED)
def test_a_peer_that_does_not_apply_is_refused_naming_why(optim, task, why, cifar_dir):
    cfg = compose_config([f"task={task}", f"optim={optim}", *tiny_overrides(task, cifar_dir)])
    with pytest.raises(ConfigError, match=re.escape(f"{optim} does not apply here: {why}")) as error:
        build_experiment(cfg, torch.device("cpu"))
    assert error.value.key == "optim"


def test_the_command_line_refusal_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "train.py"), "task=rosenbrock", "optim=muon",
                             f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: optim: muon does not apply here: the model ParameterVector has no hidden weight")


def test_a_bad_suite_key_is_named():
    cfg = compose_config(["task=xor", "optim=adahessian", "+optim.suite.create_grpah=true"])
    with pytest.raises(ConfigError, match="unknown key") as error:
        build_experiment(cfg, torch.device("cpu"))
    assert error.value.key == "optim.suite.create_grpah"


@pytest.mark.parametrize(("optim", "num_samples", "update_period"),
                         [("adahessian", 1, 1), ("adahessian", 3, 2), ("sophiah", 1, 10), ("sophiah", 2, 4)])
def test_hutchinson_hvps_are_counted_as_the_hyperparameters_say(optim, num_samples, update_period, tmp_path):
    """XOR is full batch, so an epoch is one step: ``num_samples`` HVPs on every ``update_period``-th step,
    the first included (pytorch-optimizer's schedule), and one gradient per step."""
    epochs = 7
    cfg = compose_config(["task=xor", f"optim={optim}", f"epochs={epochs}", "stop_on_convergence=false",
                          f"optim.num_samples={num_samples}", f"optim.update_period={update_period}"])
    summary = run(cfg, tmp_path)
    assert summary.hvps == num_samples * math.ceil(epochs / update_period)
    assert summary.gradient_evals == summary.loss_evals == epochs


def test_the_closure_counts_each_backward_pass_through_the_gradients_as_one_hvp():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Softplus(), torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.create_graph = True  # what the builder sets from `suite.create_graph: true`
    counts, x = Counts(), torch.randn(8, 3)
    closure = make_closure(model, lambda m: m(x).pow(2).mean(), optimizer, counts)
    closure()
    params = list(model.parameters())
    gradients = [p.grad for p in params]
    assert all(g.grad_fn is not None for g in gradients)
    for _ in range(3):  # three Hutchinson probes, as pytorch-optimizer takes them
        torch.autograd.grad(gradients, params, grad_outputs=[torch.randn_like(p) for p in params], retain_graph=True)
    assert counts == Counts(gradient_evals=1, hvps=3, loss_evals=1)
    assert int(model[1].num_batches_tracked) == 1


def ids(tensors) -> set[int]:
    return {id(t) for t in tensors}


def test_muon_takes_the_hidden_weights_and_leaves_the_rest_to_adamw():
    mlp = MLP(40, 10, hidden_sizes=[16, 16, 16])
    linears = [m for m in mlp if isinstance(m, torch.nn.Linear)]
    assert ids(hidden_weights(mlp)) == ids([linears[1].weight, linears[2].weight])
    muon, adamw = hidden_weights_apart(mlp)
    assert muon["use_muon"] and not adamw["use_muon"]
    assert ids(muon["params"]) | ids(adamw["params"]) == ids(mlp.parameters())
    assert not ids(muon["params"]) & ids(adamw["params"])
    assert ids([linears[0].weight, linears[-1].weight]) <= ids(adamw["params"])
    cnn = CNN(channels=(4, 4, 8), hidden=8)
    convs = [m for m in cnn if isinstance(m, torch.nn.Conv2d)]
    fc = [m for m in cnn if isinstance(m, torch.nn.Linear)]
    # "all the convolutional filters except the first one" (Muon's README), and the hidden FC layer
    assert ids(hidden_weights(cnn)) == ids([convs[1].weight, convs[2].weight, fc[0].weight])


def quadratic_closure(params, calls):
    a = torch.diag(torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64))

    def closure():
        calls.append(1)
        x = params[0]
        return 0.5 * x @ a @ x - x.sum()

    return closure


def test_trust_krylov_counts_every_evaluation_and_product(monkeypatch):
    products, real = [], FlatObjective.hessp
    monkeypatch.setattr(FlatObjective, "hessp", lambda self, x, v: products.append(1) or real(self, x, v))
    x = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    optimizer, calls = TrustKrylov([x], max_iter=20, initial_trust_radius=10.0), []
    loss = optimizer.step(quadratic_closure([x], calls))
    assert float(loss) == 0.0  # the loss where the step started
    assert torch.allclose(x.detach(), torch.tensor([1.0, 0.1, 0.01], dtype=torch.float64), atol=1e-8)
    totals = optimizer.totals
    assert totals["loss_evals"] == totals["gradient_evals"] == len(calls) >= 2
    assert totals["hvps"] == len(products) > 0
    # The counts travel with the optimiser's state, so a resumed run goes on counting.
    restored = TrustKrylov([torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))])
    restored.load_state_dict(optimizer.state_dict())
    assert restored.totals == totals


def test_trust_krylov_rejects_a_non_finite_trial_and_shrinks_the_radius():
    x, losses = torch.nn.Parameter(torch.tensor([0.9], dtype=torch.float64)), []

    def closure():  # a double well behind a log barrier; from 0.9 the curvature is negative and the first
        loss = -0.01 * torch.log(x[0]) + ((x[0] - 1) ** 2 - 1) ** 2  # steps cross 0, where the loss is NaN
        losses.append(loss.item())
        return loss

    optimizer = TrustKrylov([x], max_iter=50, initial_trust_radius=50.0, max_trust_radius=100.0, gtol=1e-8)
    optimizer.step(closure)
    assert any(math.isnan(loss) for loss in losses)
    gradient, = torch.autograd.grad(closure(), x)
    assert x.item() > 0 and abs(gradient.item()) < 1e-6 and losses[-1] < losses[0]


# The authors' reference defaults (the sources the configs cite), where the suite's config sets them itself.
AUTHORS_DEFAULTS = {
    "prodigy": {"lr": 1.0, "betas": [0.9, 0.999], "beta3": None, "d0": 1e-6, "d_coef": 1.0, "eps": 1e-8,
                "weight_decay": 0.0, "bias_correction": False, "safeguard_warmup": False},
    # D-Adaptation keeps d0 as the starting d
    "dadapt_adam": {"lr": 1.0, "betas": [0.9, 0.999], "d": 1e-6, "eps": 1e-8, "weight_decay": 0.0,
                    "bias_correction": False},
    "dadapt_sgd": {"lr": 1.0, "momentum": 0.0, "d": 1e-6, "weight_decay": 0.0},  # pytorch-optimizer's momentum: 0.9
    "schedule_free_adamw": {"lr": 2.5e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "warmup_steps": 0,
                            "r": 0.0, "weight_lr_power": 2.0},
}


@pytest.mark.parametrize("optim", LEARNING_RATE_FREE)
def test_the_learning_rate_free_peers_are_built_at_their_authors_defaults(optim):
    cfg = compose_config(["task=xor", f"optim={optim}"])
    optimizer = build_experiment(cfg, torch.device("cpu")).optimizer
    group = optimizer.param_groups[0]
    for key, value in AUTHORS_DEFAULTS[optim].items():
        assert (list(group[key]) if isinstance(value, list) else group[key]) == value, key
    assert group.get("growth_rate", math.inf) == math.inf  # unbounded, as the authors'; not in the (strict JSON) config
    assert getattr(optimizer, "train_eval_modes", False) == (optim == "schedule_free_adamw")
