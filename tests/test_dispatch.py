"""Runs dispatched through submitit (suite/dispatch.py, conf/hydra/launcher/, docs/scaling.md): Hydra's submitit
launcher runs a multirun's jobs; scripts/reproduce.py and scripts/sweep.py send their runs as submitit jobs on
this machine, reusing finished runs before anything is submitted; the SLURM executor is set up from the same
launcher config (checked on the sbatch script it would submit: there is no cluster here)."""

import json
import os
import pathlib
import subprocess
import sys
import threading

import pytest

from suite import dispatch
from suite.commands import reproduce, sweep
from suite.config import REPO

pytestmark = pytest.mark.usefixtures("one_thread")


def job_folders(folder: pathlib.Path) -> list[str]:
    """The jobs submitit made in ``folder`` (files named by job id: ``<id>_submitted.pkl``, its logs, its result),
    and nothing else there: no folder, such as an empty one named ``%j``."""
    if not folder.exists():
        return []
    assert not [p for p in folder.iterdir() if p.is_dir()]
    return sorted(p.name.split("_")[0] for p in folder.glob("*_submitted.pkl"))


@pytest.mark.heavy
def test_a_multirun_through_hydras_submitit_launcher(tmp_path):
    """The issue's command: each run of the multirun a submitit job, each with its record."""
    command = [sys.executable, "train.py", "-m", "hydra/launcher=submitit_local", "seed=0,1", "task=xor",
               "optim=kryball", "threads=1", f"hydra.sweep.dir={tmp_path}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*_xor_kryball_seed*/summary.json"))]
    assert [(s["seed"], s["status"]) for s in summaries] == [(0, "converged"), (1, "converged")]
    assert len(job_folders(tmp_path / ".submitit")) == 2  # two jobs, their logs and results under the sweep
    # Ours extend the plugin's schemas on purpose: neither the parent nor a job warns about it.
    logs = [done.stderr, *(p.read_text() for p in (tmp_path / ".submitit").glob("*_log.*"))]
    assert len(logs) == 5 and not [log for log in logs if "validated against ConfigStore schema" in log]


@pytest.mark.heavy
def test_a_job_of_two_tasks_is_one_data_parallel_run(tmp_path):
    """What several GPUs per run on SLURM do (tasks_per_node), on this machine's CPU: submitit's tasks join one
    process group and write one record."""
    command = [sys.executable, "train.py", "-m", "hydra/launcher=submitit_local", "hydra.launcher.tasks_per_node=2",
               "task=xor", "optim=kryball", "threads=1", f"hydra.sweep.dir={tmp_path}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(next(tmp_path.glob("0_xor_kryball_seed0/summary.json")).read_text())
    assert summary["processes"] == 2 and summary["status"] == "converged"


def test_reproduce_submits_only_the_runs_not_finished(tmp_path, capsys):
    argv = ["table_5_1", "--quick", "--seeds", "1", "--only", "rosenbrock_u11/kryball", "--out", str(tmp_path),
            "--executor", "submitit_local", "--jobs", "2", "--executor-options", "timeout_min=20"]
    assert reproduce.main(argv) == 0
    assert "[1/1] rosenbrock_u11/kryball seed 0: converged at epoch" in capsys.readouterr().out
    submitted = job_folders(tmp_path / "submitit")
    assert len(submitted) == 1
    assert reproduce.main(argv) == 0  # the same command again: reused, nothing submitted
    assert "(reused)" in capsys.readouterr().out and job_folders(tmp_path / "submitit") == submitted


@pytest.mark.heavy
def test_a_sweep_sends_its_workers_and_reruns_as_jobs(tmp_path, capsys):
    argv = [str(REPO / "sweeps" / "xor" / "msgd.yaml"), "--trials", "2", "--workers", "2", "--top-k", "1",
            "--seeds", "1", "--out", str(tmp_path / "runs"), "--tuned-dir", str(tmp_path / "tuned"),
            "--executor", "submitit_local", "epochs=12", "threads=1"]
    assert sweep.main(argv) == 0
    out = capsys.readouterr().out
    assert "on submitit_local jobs, 2 at a time" in out
    assert len(list((tmp_path / "runs").glob("trial_*/summary.json"))) == 2
    reran = list((tmp_path / "runs").glob("reruns/*/summary.json"))
    submitted = job_folders(tmp_path / "runs" / "submitit")
    assert len(reran) in (1, 2) and len(submitted) == 2 + len(reran)  # two search workers, each re-run
    assert sweep.main(argv) == 0  # everything there: no job submitted
    assert "(reused)" in capsys.readouterr().out and job_folders(tmp_path / "runs" / "submitit") == submitted


def test_the_slurm_executor_is_the_launcher_configs(tmp_path, monkeypatch):
    """What `python train.py -m hydra/launcher=submitit_slurm` asks of SLURM, the scripts ask too."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text("#!/bin/sh\n")  # submitit looks for srun before it sets up a SLURM executor
    (fake / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    executor = dispatch.submitit_executor("submitit_slurm", tmp_path / "%j", "kryball-test",
                                          {"partition": "gpu", "timeout_min": 60})
    script = executor._executor._make_submission_file_text("python -m job", "uid")
    for line in ("--partition=gpu", "--time=60", "--gpus-per-node=1", "--cpus-per-task=8", "--mem=32GB",
                 "--job-name=kryball-test"):
        assert f"#SBATCH {line}\n" in script


def test_executor_options_name_keys_of_the_launcher_config():
    assert dispatch.options("partition=gpu,timeout_min=60") == (("partition", "gpu"), ("timeout_min", 60))
    with pytest.raises(ValueError, match="partitoin: not a key of conf/hydra/launcher/submitit_slurm.yaml"):
        dispatch.launcher_parameters("submitit_slurm", {"partitoin": "gpu"})
    with pytest.raises(SystemExit):
        reproduce.parse_args(["xor", "--executor-options", "timeout_min=5"])  # local processes have none


class Job:
    """A stand-in submitit job that ends when the test says so."""

    def __init__(self, fn, args):
        self.fn, self.args, self.ended, self.cancelled = fn, args, threading.Event(), False

    def done(self):
        return self.ended.is_set()

    def result(self):
        if self.cancelled:
            raise RuntimeError("cancelled")
        return self.fn(*self.args)

    def cancel(self, check=True):
        self.cancelled = True
        self.ended.set()


class Executor:
    def __init__(self):
        self.jobs = []

    def submit(self, fn, *args):
        self.jobs.append(Job(fn, args))
        return self.jobs[-1]


def wait_for(condition, seconds=10.0):
    event = threading.Event()
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        event.wait(0.05)
    return False


def test_the_pool_keeps_at_most_jobs_submitted_and_passes_their_results_and_errors(monkeypatch):
    monkeypatch.setattr(dispatch, "POLL_S", 0.01)
    executor = Executor()
    with dispatch.SubmititPool(executor, jobs=2) as pool:
        futures = [pool.submit(pow, 2, k) for k in range(3)] + [pool.submit(int, "not a number")]
        assert wait_for(lambda: len(executor.jobs) == 2) and not wait_for(lambda: len(executor.jobs) > 2, 0.3)
        for k in range(4):
            assert wait_for(lambda: len(executor.jobs) > k)
            executor.jobs[k].ended.set()
    assert [f.result() for f in futures[:3]] == [1, 2, 4]
    assert isinstance(futures[3].exception(), ValueError)


def test_leaving_the_pool_by_an_error_cancels_the_jobs(monkeypatch):
    monkeypatch.setattr(dispatch, "POLL_S", 0.01)
    executor = Executor()
    with pytest.raises(KeyboardInterrupt):
        with dispatch.SubmititPool(executor, jobs=1) as pool:
            futures = [pool.submit(pow, 2, k) for k in range(3)]
            assert wait_for(lambda: len(executor.jobs) == 1)
            raise KeyboardInterrupt
    assert executor.jobs[0].cancelled and len(executor.jobs) == 1
    assert futures[1].cancelled() and futures[2].cancelled()


def allocate(size: int) -> int:
    """Take ``size`` bytes (in a pool's worker) and say how many."""
    return len(bytearray(size))


def test_a_local_worker_that_wants_more_than_its_memory_fails_alone(tmp_path):
    # Without the limit the kernel would kill the worker (on a machine with less memory than asked) and break the
    # pool, failing the other run in it and every run after; with it, the allocation fails as any error does.
    with dispatch.pool("local", 2, tmp_path, "memory") as pool:
        greedy, modest = pool.submit(allocate, dispatch.memory_share(2) + 1), pool.submit(allocate, 1000)
        with pytest.raises(MemoryError):
            greedy.result()
        assert modest.result() == 1000
        assert pool.submit(allocate, 10).result() == 10  # the pool goes on
