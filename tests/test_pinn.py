"""The physics-informed tasks (tasks/pinn.py, tasks/pdes.py): the exact solutions solve the PDEs as the tasks'
own residual code computes them, the loss and the error metric are right at the exact solution and at zero,
per-example losses and subsets are what KryBall's curvature_batch needs, the points are the paper's."""

import functools
import math

import pytest
import torch
from conftest import TINY, compose_config

from kryball import Outputs, Residuals
from models.mlp import MLP
from suite.config import ConfigError
from suite.experiment import build, build_experiment
from suite.step_closure import Counts, make_closure
from suite.training import run
from tasks.pdes import Convection, Reaction, Wave
from tasks.pinn import PINN

pytestmark = pytest.mark.usefixtures("one_thread")

PDES = {"pinn_convection": Convection(), "pinn_reaction": Reaction(), "pinn_wave": Wave()}
SMALL = dict(num_x=33, num_t=21, num_residual=300, test_num_x=17, test_num_t=11)


class Solution(torch.nn.Module):
    """A "network" that returns a function of (x, t) exactly."""

    def __init__(self, u):
        super().__init__()
        self.u = u

    def forward(self, xt):
        return self.u(xt[:, 0], xt[:, 1]).unsqueeze(-1)


def small_task(pde, **overrides) -> PINN:
    return PINN(seed=0, device="cpu", dtype=torch.float64, pde=pde, **{**SMALL, **overrides})


def network(width=8) -> MLP:
    torch.manual_seed(0)
    return MLP(2, 1, [width] * 3, activation="tanh", init="xavier_normal").double()


@pytest.mark.parametrize("name", sorted(PDES))
def test_the_exact_solution_solves_the_pde_by_the_tasks_own_residual(name):
    pde = PDES[name]
    xt = torch.rand(500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    xt = (xt * torch.tensor([pde.x_range[1] - pde.x_range[0], 1.0], dtype=torch.float64)).requires_grad_(True)
    u = pde.exact(xt[:, 0], xt[:, 1])
    scale = {"pinn_convection": 40, "pinn_reaction": 5, "pinn_wave": (2 * 5 * math.pi) ** 2}[name]  # of u's terms
    assert pde.residual(u, xt).abs().max() <= 1e-13 * scale
    x = xt[:, 0].detach()
    assert torch.allclose(pde.exact(x, torch.zeros_like(x)), pde.initial(x), atol=1e-15)
    # ... and a wrong function does not
    assert pde.residual(u + xt[:, 1] ** 2, xt).abs().max() > 1e-3


@pytest.mark.parametrize("name", sorted(PDES))
def test_the_loss_is_zero_at_the_exact_solution_and_the_error_zero_there_and_one_at_zero(name):
    pde = PDES[name]
    task = small_task(pde)
    exact = Solution(pde.exact)
    (batch,) = task.batches(1)
    assert float(task.loss(exact, batch).detach()) <= 1e-24  # sin(5π) and the like are ~1e-16, not 0
    metrics = task.evaluate(exact)
    assert metrics["train_loss"] <= 1e-24 and metrics["l2_relative_error"] <= 1e-14
    zero = Solution(lambda x, t: 0 * x)
    assert task.evaluate(zero)["l2_relative_error"] == pytest.approx(1.0, abs=1e-15)
    assert task.evaluate(Solution(lambda x, t: 2 * pde.exact(x, t)))["l2_relative_error"] == pytest.approx(1.0)


@pytest.mark.parametrize("name", sorted(PDES))
def test_per_example_losses_average_to_the_papers_loss_and_subsets_select(name):
    pde = PDES[name]
    task, model = small_task(pde), network()
    (batch,) = task.batches(1)
    loss, each = task.loss(model, batch), task.loss(model, batch, reduction="none")
    assert each.shape == (300 + 33 + 21,) and torch.allclose(each.mean(), loss, rtol=1e-13)
    # the paper's loss: each term the mean over its own points, whatever their number
    parts = task.evaluate(model)
    assert parts["train_loss"] == pytest.approx(float(loss.detach()), rel=1e-12)
    assert parts["loss_residual"] + parts["loss_initial"] + parts["loss_boundary"] == pytest.approx(float(loss.detach()))
    indices = torch.tensor([352, 0, 310, 299, 301, 340, 7])  # boundary, residual, initial, … in no order
    subset = task.loss(model, batch, indices=indices, reduction="none")
    assert torch.allclose(subset, each[indices], rtol=1e-13)
    assert torch.allclose(task.loss(model, batch, indices=indices), each[indices].mean(), rtol=1e-13)


@pytest.mark.parametrize("name", sorted(PDES))
def test_the_residuals_square_to_the_per_example_losses(name):
    task, model = small_task(PDES[name]), network()
    (batch,) = task.batches(1)
    indices = torch.tensor([352, 0, 310, 299, 301, 340, 7])
    for subset in (None, indices):
        residuals = task.loss(model, batch, indices=subset, reduction="residuals")
        each = task.loss(model, batch, indices=subset, reduction="none")
        assert residuals.shape == (len(each), 2) and residuals.requires_grad
        assert torch.allclose(residuals.pow(2).sum(1), each, rtol=1e-13)
    with pytest.raises(ValueError, match="reduction must be 'mean', 'none' or 'residuals', got 'sum'"):
        task.loss(model, batch, reduction="sum")


def test_the_loss_keeps_its_input_derivatives_under_no_grad_and_returns_it_detached():
    task, model = small_task(Wave()), network()
    (batch,) = task.batches(1)
    with_graph = task.loss(model, batch)
    with torch.no_grad():
        without = task.loss(model, batch)
    assert with_graph.requires_grad and not without.requires_grad and float(without) == float(with_graph.detach())
    # the parameters' Hessian through the input derivatives exists: what KryBall's products differentiate
    params = list(model.parameters())
    grads = torch.autograd.grad(with_graph, params, create_graph=True)
    hvp = torch.autograd.grad(grads, params, [torch.ones_like(p) for p in params])
    assert all(torch.isfinite(h).all() for h in hvp)


def test_the_points_are_the_papers_and_fixed_by_the_data_seed():
    paper = PINN(seed=0, device="cpu", dtype=torch.float64, pde=Convection())
    assert paper.residual_points.shape == (10000, 2) and paper.initial_points.shape == (257, 2)
    assert paper.lower.shape == paper.upper.shape == (101, 2) and paper.test_points.shape == (127 * 100 + 129 + 2 * 101, 2)
    x, t = paper.residual_points.unbind(1)
    assert (x > 0).all() and (x < 2 * math.pi).all() and (t > 0).all() and (t <= 1).all()
    assert len(torch.unique(paper.residual_points, dim=0)) == 10000  # drawn without replacement
    assert (paper.initial_points[:, 1] == 0).all() and (paper.lower[:, 0] == 0).all()
    assert (paper.upper[:, 0] == 2 * math.pi).all()
    other_seed = PINN(seed=5, device="cpu", dtype=torch.float64, pde=Convection())
    assert torch.equal(other_seed.residual_points, paper.residual_points)
    other_data = PINN(seed=0, device="cpu", dtype=torch.float64, pde=Convection(), data_seed=1)
    assert not torch.equal(other_data.residual_points, paper.residual_points)


def test_the_configs_build_the_papers_problems():
    for name, pde in PDES.items():
        cfg = compose_config([f"task={name}"])
        task = build(cfg.task, seed=0, device=torch.device("cpu"), dtype=torch.float64)
        assert type(task.pde) is type(pde) and cfg.dtype == "float64" and cfg.model.activation == "tanh"
        assert len(cfg.model.hidden_sizes) == 3 and cfg.first_phase_steps < cfg.epochs
    assert compose_config(["task=pinn_convection"]).task.pde.beta == 40
    assert compose_config(["task=pinn_reaction"]).task.pde.rho == 5
    assert compose_config(["task=pinn_wave"]).task.pde.beta == 5
    paper = compose_config(["experiment=pinn_convection_paper"])
    assert (paper.task.num_x, paper.task.num_t, paper.task.num_residual) == (257, 101, 10000)
    assert list(paper.model.hidden_sizes) == [200, 200, 200]


@pytest.mark.parametrize(("override", "key"), [("task.num_residual=100000", "task.num_residual"),
                                               ("task.num_x=2", "task.num_x")])
def test_impossible_point_counts_name_their_key(override, key):
    cfg = compose_config(["task=pinn_reaction", override])
    with pytest.raises(ConfigError) as error:
        build(cfg.task, seed=0, device=torch.device("cpu"), dtype=torch.float64)
    assert error.value.key == key


@pytest.mark.parametrize("optim", ["adam", "lbfgs", "adam_then_lbfgs", "kryball", "kryball_plus",
                                   "kryball_plus optim.curvature=gauss_newton",
                                   "adam_then_kryball_plus optim.then.curvature=gauss_newton"])
def test_a_short_run_records_the_error_every_epoch(optim, tmp_path):
    cfg = compose_config(["task=pinn_reaction", *f"optim={optim}".split(), "epochs=3", "first_phase_steps=1",
                          "task.num_x=17", "task.num_t=9", "task.num_residual=60", "model.hidden_sizes=[8,8,8]"])
    summary = run(cfg, tmp_path)
    assert summary.status == "completed", summary.error
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    errors = [float(line.split(",")[header.index("l2_relative_error")]) for line in lines[1:]]
    assert len(errors) == 3 and summary.final_l2_relative_error == errors[-1]
    assert summary.best_l2_relative_error == min(errors) and summary.final_test_psnr is None
    assert {"loss_residual", "loss_initial", "loss_boundary"} <= set(header)


def test_gauss_newton_curvature_is_refused_on_a_task_without_residuals(tmp_path):
    cfg = compose_config(["task=xor", "optim=kryball", "optim.curvature=gauss_newton", "epochs=1"])
    with pytest.raises(ConfigError, match="Gauss–Newton curvature needs a least-squares task") as error:
        run(cfg, tmp_path)
    assert error.value.key == "optim.curvature"


def test_kryball_plus_takes_residuals_where_the_task_has_them_and_the_loss_elsewhere(tmp_path):
    """Its ``curvature: auto``: the suite's closure gives Residuals on a least-squares task only."""
    for task, least_squares in (("rahimi_recht", True), ("xor", False)):
        cfg = compose_config([f"task={task}", "optim=kryball_plus", "epochs=1"])
        experiment = build_experiment(cfg, torch.device("cpu"))
        assert getattr(experiment.task, "least_squares", False) == least_squares
        batch = next(iter(experiment.task.batches(0)))
        closure = make_closure(experiment.model, functools.partial(experiment.task.loss, batch=batch),
                               experiment.optimizer, Counts(), least_squares)
        assert isinstance(closure(), Residuals) == least_squares
        assert run(cfg, tmp_path / task).status in ("completed", "converged")


def test_a_classification_task_gives_outputs_to_gauss_newton_by_name_and_the_loss_to_auto(tmp_path):
    """On MNIST-1D ``curvature="gauss_newton"`` gets kryball.Outputs (generalised Gauss–Newton), while KryBall+'s
    ``auto`` keeps the Hessian there (not measured on the tracks); both train."""
    for curvature, gives_outputs in (("gauss_newton", True), ("auto", False)):
        overrides = ["task=mnist1d", "optim=kryball_plus", f"optim.curvature={curvature}", "epochs=1",
                     *TINY["mnist1d"]]
        cfg = compose_config(overrides)
        experiment = build_experiment(cfg, torch.device("cpu"))
        assert experiment.task.outputs
        batch = next(iter(experiment.task.batches(0)))
        closure = make_closure(experiment.model, functools.partial(experiment.task.loss, batch=batch),
                               experiment.optimizer, Counts(), outputs=experiment.task.outputs)
        assert isinstance(closure(), Outputs) == gives_outputs
        assert run(cfg, tmp_path / curvature).status in ("completed", "converged")
