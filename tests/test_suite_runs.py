"""End-to-end runs of suite.training.run on CPU with tiny sizes: every task × optimiser, the run record,
divergence, BatchNorm statistics under repeated closure calls, resume and early stopping."""

import json
import math

import pytest
import torch
from conftest import CONF_DIR, TINY, compose_config, metrics_rows, straight_and_resumed, tiny_overrides

from suite.experiment import build
from suite.run_record import COLUMNS
from suite.step_closure import Counts, backward_with_graph, make_closure
from suite.training import run

pytestmark = pytest.mark.usefixtures("one_thread")

OPTIMS = ["kryball", "kryball_plus", "msgd", "adam", "lbfgs", "lbfgs_single"]
SUMMARY_FIELDS = {"task", "optim", "seed", "status", "epochs_run", "epochs_to_convergence",
                  "time_to_convergence_s", "final_train_loss", "peak_test_acc", "final_test_acc",
                  "final_test_loss", "final_val_loss", "final_val_acc", "peak_val_acc",
                  "wall_time_s", "gradient_evals", "hvps", "loss_evals", "config", "code_version"}


@pytest.mark.parametrize("task", sorted(TINY))
@pytest.mark.parametrize("optim", OPTIMS)
def test_every_task_with_every_optimiser(task, optim, cifar_dir, tmp_path):
    cheaper_line_search = ["optim.max_iter=4"] if optim == "lbfgs" else []
    cfg = compose_config([f"task={task}", f"optim={optim}", "epochs=2", "stop_on_convergence=false",
                          *tiny_overrides(task, cifar_dir), *cheaper_line_search])
    summary = run(cfg, tmp_path)
    assert summary.status in ("completed", "converged"), summary.error
    assert SUMMARY_FIELDS <= set(summary.to_json()) and summary.epochs_run == 2
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["status"] == summary.status and on_disk["config"]["task"]["name"] == task
    rows = metrics_rows(tmp_path, drop=())
    assert [r["epoch"] for r in rows] == ["1", "2"] and list(rows[0])[:len(COLUMNS)] == COLUMNS
    assert int(rows[-1]["gradient_evals"]) >= 2 and int(rows[-1]["loss_evals"]) >= 2
    assert (int(rows[-1]["hvps"]) > 0) == optim.startswith("kryball")
    has_test_set = task in ("mnist1d", "xor", "cifar10_cnn", "cifar10_resnet")
    assert (rows[-1]["test_acc"] != "") == has_test_set
    has_validation = task in ("mnist1d", "cifar10_cnn", "cifar10_resnet")  # XOR: nothing to hold out
    assert (rows[-1]["val_acc"] != "") == (rows[-1]["val_loss"] != "") == has_validation
    assert (summary.final_val_acc is not None) == (summary.peak_val_acc is not None) == has_validation


def test_lbfgs_counts_every_function_evaluation(tmp_path):
    ideal = run(compose_config(["task=rosenbrock", "optim=lbfgs", "epochs=1"]), tmp_path / "ideal")
    single = run(compose_config(["task=rosenbrock", "optim=lbfgs_single", "optim.lr=0.001", "epochs=3"]),
                 tmp_path / "single")
    assert ideal.loss_evals > 1 and ideal.gradient_evals == ideal.loss_evals
    assert single.loss_evals == 3 and single.hvps == 0


def test_rosenbrock_with_kryball_converges_and_records_epochs(tmp_path):
    summary = run(compose_config(["task=rosenbrock", "optim=kryball"]), tmp_path)
    assert summary.status == "converged" and summary.final_train_loss <= 1e-4
    assert summary.epochs_to_convergence == summary.epochs_run < 2000
    assert summary.time_to_convergence_s == summary.wall_time_s


def test_stochastic_rosenbrock_draws_one_noise_per_step(tmp_path):
    cfg = compose_config(["task=rosenbrock", "task.noise_low=0", "task.noise_high=3"])
    task = build(cfg.task, seed=0, device=torch.device("cpu"), dtype=torch.float64)
    noises = [next(iter(task.batches(epoch))) for epoch in (1, 2, 1)]
    assert noises[0] == noises[2] != noises[1] and all(0 <= n <= 3 for n in noises)


def test_divergence_is_recorded(tmp_path):
    cfg = compose_config(["task=rahimi_recht", "task.condition_number=1e5", "optim=msgd", "optim.lr=10",
                          "epochs=50"])
    summary = run(cfg, tmp_path)
    assert summary.status == "diverged" and summary.epochs_run < 50
    assert summary.final_train_loss is None  # non-finite → null: the JSON stays strict
    last = metrics_rows(tmp_path, drop=())[-1]
    assert not math.isfinite(float(last["train_loss"]))


def test_extra_closure_calls_leave_batchnorm_statistics_alone(cifar_dir, tmp_path):
    cfg = compose_config(["task=cifar10_cnn", "optim=kryball", "epochs=2", *tiny_overrides("cifar10_cnn", cifar_dir)])
    run(cfg, tmp_path)
    model = build(cfg.model)
    model.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=False)["model"])
    task = build(cfg.task, seed=0, device=torch.device("cpu"), dtype=torch.float32)
    steps = sum(1 for epoch in (1, 2) for _ in task.batches(epoch))  # one BatchNorm update per step
    tracked = {int(m.num_batches_tracked) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert tracked == {steps}


def test_make_closure_counts_and_freezes_batchnorm():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    x = torch.randn(8, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    counts = Counts()
    closure = make_closure(model, lambda m: m(x).pow(2).mean(), optimizer, counts)
    closure()
    mean_after_first = model[1].running_mean.clone()
    closure()
    closure()
    assert int(model[1].num_batches_tracked) == 1 and torch.equal(model[1].running_mean, mean_after_first)
    assert model[1].track_running_stats and counts == Counts(gradient_evals=3, hvps=0, loss_evals=3)


def test_resume_gives_the_uninterrupted_result(cifar_dir, tmp_path):
    overrides = ["task=cifar10_cnn", "optim=kryball", "epochs=3", *tiny_overrides("cifar10_cnn", cifar_dir)]
    straight, interrupted, resumed = straight_and_resumed(overrides, tmp_path)
    assert interrupted["status"] == "failed" and interrupted["epochs_run"] == 1
    assert resumed.status == straight.status == "completed"
    assert metrics_rows(tmp_path / "resumed") == metrics_rows(tmp_path / "straight")
    for key in ("final_train_loss", "final_test_acc", "gradient_evals", "hvps", "loss_evals"):
        assert getattr(resumed, key) == getattr(straight, key), key


def test_resume_finds_the_checkpoint_of_the_same_config(tmp_path):
    outputs = tmp_path / "outputs" / "runs"
    overrides = ["task=xor", "optim=adam", "checkpoint=true", "stop_on_convergence=false"]
    first = run(compose_config([*overrides, "epochs=2"]), outputs / "first")
    assert first.epochs_run == 2
    # Another config's checkpoint is never picked up.
    other = run(compose_config(["task=xor", "optim=msgd", "epochs=1", "resume=true"]), outputs / "other")
    assert other.run_dir == str(outputs / "other")
    again = run(compose_config([*overrides, "epochs=2", "resume=true"]), outputs / "second")
    assert again.run_dir == str(outputs / "first") and again.epochs_run == 2
    assert again.loss_evals == first.loss_evals
    # Not even when it lies in the run directory itself: that run starts afresh.
    fresh = run(compose_config(["task=xor", "optim=msgd", "epochs=1", "checkpoint=true", "resume=true"]),
                outputs / "first")
    assert fresh.epochs_run == 1 and fresh.optim == "msgd"


def test_on_epoch_can_prune(tmp_path):
    seen = []

    def stop_at_two(epoch, row):
        seen.append(row["epoch"])
        return epoch == 2

    summary = run(compose_config(["task=xor", "optim=adam", "epochs=10"]), tmp_path, on_epoch=stop_at_two)
    assert summary.status == "pruned" and summary.epochs_run == 2 and seen == [1, 2]


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")))
def test_every_experiment_runs_an_epoch(experiment, cifar_dir, tmp_path):
    task = compose_config([f"experiment={experiment}"]).task.name
    cfg = compose_config([f"experiment={experiment}", "epochs=1", *tiny_overrides(task, cifar_dir)])
    assert run(cfg, tmp_path).status in ("completed", "converged")


@pytest.mark.parametrize("threads, device, hidden, expected", [
    (None, "cpu", [256, 256], 1),  # the MNIST-1D MLP (77 k parameters): one thread
    (None, "cpu", [1024, 1024], None),  # 1.1 M parameters: PyTorch's default
    (None, "cuda", [256, 256], None),  # the GPU does the work: the CPU threads are PyTorch's
    (2, "cpu", [256, 256], 2),  # as configured
])
def test_the_default_thread_rule(threads, device, hidden, expected):
    from models.mlp import MLP
    from suite.training import intra_op_threads
    model = MLP(40, 10, hidden)
    assert intra_op_threads(threads, model, torch.device(device)) == expected


def test_a_run_at_the_default_threads_of_a_small_model_takes_one_thread(tmp_path, monkeypatch):
    chosen = []
    monkeypatch.setattr(torch, "set_num_threads", chosen.append)
    run(compose_config(["task=xor", "optim=adam", "epochs=1"]), tmp_path / "run")
    assert chosen == [1]


def _krylov_columns(run_dir):
    return [(row["krylov_dim"], row["refreshes"]) for row in metrics_rows(run_dir)]


def test_the_record_says_which_krylov_dimension_kryball_chose(tmp_path):
    # krylov_tol lets the problem choose M: on Rosenbrock (2 parameters) the basis cannot pass 2, whatever the cap.
    run(compose_config(["task=rosenbrock", "optim=kryball_plus", "optim.krylov_tol=0.2", "optim.krylov_dim=20",
                        "optim.refresh=2", "epochs=6", "stop_on_convergence=false"]), tmp_path / "adaptive")
    columns = _krylov_columns(tmp_path / "adaptive")
    assert [refreshes for _, refreshes in columns] == ["1", "0", "1", "0", "1", "0"]  # one step an epoch, every 2nd
    assert all(dim == "" for dim, refreshes in columns if refreshes == "0")
    assert all(1 <= float(dim) <= 2 for dim, refreshes in columns if refreshes == "1")


def test_the_krylov_columns_follow_kryball_through_the_phases(tmp_path):
    run(compose_config(["task=rosenbrock", "optim=adam_then_kryball", "optim.switch_after=2", "epochs=4",
                        "stop_on_convergence=false"]), tmp_path / "phased")
    columns = _krylov_columns(tmp_path / "phased")
    assert [refreshes for _, refreshes in columns[:2]] == ["0", "0"]  # Adam's steps
    assert columns[2][1] == "1" and float(columns[2][0]) >= 1  # KryBall's first step builds a basis
    run(compose_config(["task=rosenbrock", "optim=adam", "epochs=2"]), tmp_path / "adam")
    assert "krylov_dim" not in metrics_rows(tmp_path / "adam")[0]


def test_a_graph_kept_for_hessian_products_goes_into_the_parameters_only():
    # A physics-informed loss differentiates the network with respect to input points that require grad; a
    # backward with create_graph=True into them too would leave each step's graph in a cycle nothing breaks.
    model, points = torch.nn.Linear(2, 1), torch.randn(5, 2, requires_grad=True)
    u = model(points).sum()
    (du,) = torch.autograd.grad(u, points, create_graph=True)
    backward_with_graph((du ** 2).sum() + u ** 2, model, Counts())
    assert points.grad is None
    assert all(p.grad is not None and p.grad.requires_grad for p in model.parameters())
