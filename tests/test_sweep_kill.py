"""A sweep worker killed mid-trial loses nothing (suite/sweeps/local.py, docs/sweeps.md): the real
``scripts/sweep.py`` process is killed with SIGKILL while a trial trains, the same command is run again,
and the study holds the killed trial as failed, its configuration retried once, the requested number of
new trials (the retry among them), and no trial twice."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import optuna
import pytest
from conftest import xor_adam_spec
from optuna.trial import TrialState

from suite.config import REPO
from suite.sweeps import local

# XOR with Adam, every trial long enough (120 epochs, half a second) to be killed while it trains.
SPEC = xor_adam_spec("epochs=120", "stop_on_convergence=false")


def sweep_command(tmp_path: pathlib.Path, trials: int) -> list[str]:
    spec = tmp_path / "sweeps" / "xor" / "adam.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(SPEC)
    # The search alone (--protocol thesis): the default protocol's re-runs are runs, not trials.
    return [sys.executable, "scripts/sweep.py", str(spec), "--protocol", "thesis", "--trials", str(trials), "--seed", "0",
            "--out", str(tmp_path / "runs"), "--tuned-dir", str(tmp_path / "tuned")]


def study_of(tmp_path: pathlib.Path) -> optuna.Study:
    return optuna.load_study(study_name="xor-adam", storage=local.open_storage(str(tmp_path / "runs" / "journal.log")))


@pytest.mark.heavy
def test_a_worker_killed_mid_trial_loses_no_trial_and_counts_none_twice(tmp_path):
    worker = subprocess.Popen(sweep_command(tmp_path, 3), cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    training = tmp_path / "runs" / "trial_0001" / "metrics.csv"  # trial 1 has finished an epoch
    deadline = time.monotonic() + 240
    while not training.exists():
        assert worker.poll() is None, worker.stderr.read()
        assert time.monotonic() < deadline, "trial 1 never started"
        time.sleep(0.005)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert worker.returncode == -signal.SIGKILL
    killed = study_of(tmp_path).trials
    assert [t.state for t in killed] == [TrialState.COMPLETE, TrialState.RUNNING]

    again = subprocess.run(sweep_command(tmp_path, 2), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1 finished trials so far, 1 interrupted trial(s) marked failed and queued again" in again.stdout
    assert "(a retry of trial 1, whose worker died)" in again.stdout

    trials = study_of(tmp_path).trials
    assert [t.number for t in trials] == [0, 1, 2, 3]  # none lost, none twice
    # A finished trial is complete or, with the thesis protocol's Hyperband, pruned: either way it counts.
    finished = {TrialState.COMPLETE, TrialState.PRUNED}
    assert trials[0].state == TrialState.COMPLETE and trials[1].state == TrialState.FAIL
    assert trials[2].state in finished and trials[3].state in finished
    assert trials[0].params == killed[0].params and trials[0].value == killed[0].value  # the finished one stands
    retry = trials[2]
    assert retry.system_attrs["failed_trial"] == 1 and retry.params == trials[1].params
    assert retry.user_attrs["run_dir"].endswith("trial_0002")  # a fresh run directory, not the killed one's
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # two processes: the killed one and the rerun


def test_a_pid_held_by_a_newer_process_is_not_the_worker():
    me = local._worker_tag()
    host, pid, start = me.split(":")
    assert host == socket.gethostname() and pid == str(os.getpid()) and start.isdigit()
    assert not local._worker_is_gone(me)
    assert local._worker_is_gone(f"{host}:{pid}:{int(start) - 1}")  # this pid, but a process started earlier
    assert not local._worker_is_gone(f"{host}:{pid}")  # a tag without a start time: the pid alone decides
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert local._worker_is_gone(f"{host}:{dead.pid}:")
    assert not local._worker_is_gone(f"another-{host}:{dead.pid}:1")  # another machine: the heartbeat's business


def test_a_trial_left_untagged_is_failed_once_its_grace_is_over(tmp_path, monkeypatch):
    study = optuna.create_study(storage=local.open_storage(str(tmp_path / "journal.log")), study_name="s")
    study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})  # created, then its worker died untagged
    assert local.fail_orphans(study) == 0  # it may still be tagged any moment
    monkeypatch.setattr(local, "UNTAGGED_GRACE_S", -1)
    assert local.fail_orphans(study) == 1
    orphan, retry = study.get_trials()
    assert orphan.state == TrialState.FAIL and retry.state == TrialState.WAITING
    assert retry.params == orphan.params and retry.system_attrs["failed_trial"] == 0
    assert local.fail_orphans(study) == 0  # failed once, retried once
