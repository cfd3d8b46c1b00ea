"""The suite on two processes (suite/data_parallel.py, suite/processes.py, docs/scaling.md): each trains on its
shard of every batch — KryBall as DistributedKryBall, first-order optimisers through DDP — and the run is the
single-process run up to round-off; process 0 alone writes the record and checkpoints, which resume on any number
of processes; optimisers DDP cannot average are refused in one line. And ``torchrun`` itself, end to end."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import compose_config

from suite import processes
from suite.config import REPO, ConfigError
from suite.data_parallel import DataParallel
from suite.local_group import run_in_processes
from suite.run_record import read_summary
from suite.training import run

pytestmark = pytest.mark.usefixtures("one_thread")

# MNIST-1D, tiny: 180 training examples in batches of 64 (the last one 52: shards of 26), two epochs.
MNIST1D = ["task=mnist1d", "task.num_samples=200", "task.batch_size=64", "model.hidden_sizes=[16]",
           "dtype=float64", "epochs=2", "threads=1"]
# Each optimiser's overrides; KryBall+ with its curvature on 16 examples of each batch (kryball/closure.py).
OPTIMS = {"kryball": ["optim=kryball"], "kryball_plus": ["optim=kryball_plus", "optim.curvature_batch=16"],
          "adam": ["optim=adam"], "lbfgs_single": ["optim=lbfgs_single"]}


class Interrupted(Exception):
    """Stands for a kill between two epochs."""


def interrupt_after(epoch):
    def on_epoch(at, row):
        if at == epoch:
            raise Interrupted

    return on_epoch


def train(overrides, run_dir, stop_after=None):
    """One process's part of a run; returns the summary it built (None if interrupted)."""
    try:
        return run(compose_config(overrides), run_dir, on_epoch=stop_after and interrupt_after(stop_after))
    except Interrupted:
        return None


def train_everything(rank, tmp_path):
    """Every run of this module that needs two processes, in one spawn (each costs seconds to start)."""
    # Process 1 names another directory: the run's is process 0's.
    results = {optim: train([*MNIST1D, *overrides], tmp_path / (optim if rank == 0 else f"{optim}_1"))
               for optim, overrides in OPTIMS.items()}
    resumable = [*MNIST1D, "optim=kryball", "epochs=4", "checkpoint=true"]
    train(resumable, tmp_path / "interrupted", stop_after=2)
    if rank == 0:  # the checkpoint the kill left, for a single process to resume too
        shutil.copy(tmp_path / "interrupted" / "checkpoint.pt", tmp_path / "checkpoint_after_epoch_2.pt")
    results["resumed"] = train([*resumable, "resume=true"], tmp_path / "interrupted")
    results["whole"] = train(resumable, tmp_path / "whole")
    results["buffers"] = averaged_buffers(rank)
    try:
        train([*MNIST1D, "optim=adahessian"], tmp_path / "refused")
    except ConfigError as error:
        results["refused"] = str(error)
    return results


def averaged_buffers(rank):
    """BatchNorm's running statistics, as each process left them after its shards, then as evaluated."""
    model = torch.nn.BatchNorm1d(3)
    parallel = DataParallel(processes.from_environment(), model, torch.optim.SGD(model.parameters(), lr=0.1), "sgd")
    model.running_mean.fill_(rank)  # as training on different shards leaves them
    return parallel.end_epoch(lambda evaluated: evaluated.running_mean.tolist())


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data_parallel")
    return folder, run_in_processes(train_everything, 2, folder)


def rows(run_dir):
    return [line.split(",") for line in (run_dir / "metrics.csv").read_text().splitlines()[1:]]


def without_wall_time(table):
    return [row[:6] + row[7:] for row in table]  # wall_time_s is column 7


@pytest.mark.parametrize("optim", OPTIMS)
def test_two_processes_record_the_run_of_one(two_processes, optim, tmp_path):
    folder, (first, second) = two_processes
    alone = run(compose_config([*MNIST1D, *OPTIMS[optim]]), tmp_path)
    assert first[optim].status == second[optim].status == alone.status == "completed"
    assert first[optim].processes == 2 and alone.processes == 1
    on_disk = read_summary(folder / optim)
    assert on_disk.processes == 2 and on_disk.final_train_loss == first[optim].final_train_loss
    assert first[optim].final_train_loss == second[optim].final_train_loss  # every process took the same steps
    for ours, theirs in zip(rows(folder / optim), rows(tmp_path)):
        assert [float(v) for v in ours[1:6]] == pytest.approx([float(v) for v in theirs[1:6]], rel=1e-9)
        assert ours[7:] == theirs[7:]  # the counts: per process, as a single process counts them


def test_only_process_0_writes(two_processes):
    folder, (first, second) = two_processes
    assert sorted(p.name for p in (folder / "kryball").iterdir()) == ["metrics.csv", "summary.json"]
    assert not (folder / "kryball_1").exists() and second["kryball"].run_dir == str(folder / "kryball")


def test_a_resumed_run_continues_as_the_uninterrupted_one(two_processes, tmp_path):
    folder, (first, _) = two_processes
    assert first["resumed"].status == "completed" and first["resumed"].epochs_run == 4
    assert without_wall_time(rows(folder / "interrupted")) == without_wall_time(rows(folder / "whole"))
    # The checkpoint is that of the run, not of its processes: one process resumes it as well.
    shutil.copy(folder / "checkpoint_after_epoch_2.pt", tmp_path / "checkpoint.pt")
    config = compose_config([*MNIST1D, "optim=kryball", "epochs=4", "checkpoint=true", "resume=true"])
    alone = run(config, tmp_path)
    assert alone.epochs_run == 4 and alone.final_train_loss == pytest.approx(first["resumed"].final_train_loss,
                                                                              rel=1e-9)


def test_the_model_evaluated_is_the_same_on_every_process(two_processes):
    """Each process updates BatchNorm's running statistics from its own shard; their mean is evaluated."""
    _, (first, second) = two_processes
    assert first["buffers"] == second["buffers"] == [0.5, 0.5, 0.5]


def test_optimisers_ddp_cannot_average_are_refused_in_one_line(two_processes):
    _, (first, second) = two_processes
    assert first["refused"] == second["refused"]
    assert first["refused"].startswith("optim: adahessian does not run data-parallel")


@pytest.mark.heavy
def test_torchrun_writes_one_run_record(tmp_path):
    """The issue's command, run from another directory: one run directory (process 0's), one record."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", str(REPO / "train.py"),
               "task=mnist1d", "optim=kryball", "epochs=2", "threads=1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = list(tmp_path.glob("outputs/runs/*/*/summary.json"))
    assert len(summaries) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["outputs"]
    summary = json.loads(summaries[0].read_text())
    assert summary["status"] == "completed" and summary["processes"] == 2 and summary["epochs_run"] == 2
    assert done.stdout.count("mnist1d / mlp / kryball (seed 0): completed after 2 epochs") == 1


def test_torchrun_refuses_a_multirun(tmp_path):
    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}
    done = subprocess.run([sys.executable, str(REPO / "train.py"), "-m", "seed=0,1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: torchrun starts one run")
