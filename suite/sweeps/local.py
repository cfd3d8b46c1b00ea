"""The embedded sweep engine: one W&B spec run as an Optuna study (DESIGN §6, thesis §5.2.5).

Storage decides who can share a study:

* a file path (default ``outputs/sweeps/<task>-<optim>/journal.log``): Optuna's
  ``JournalStorage`` + ``JournalFileBackend``, an append-only log that several processes on one
  machine write safely (SQLite does not like many writers, optuna#4002);
* a ``postgresql://`` or ``mysql://`` URL: ``RDBStorage``, for workers on many machines; its
  heartbeat fails the trials of a worker that died, so they are not waited on forever.

Re-running the same command loads the same study and runs ``trials`` more; a trial killed
mid-run is marked failed on the next start (its process is gone), so nothing else is lost.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pathlib
import socket
from collections.abc import Callable

import optuna
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from . import space as space_mod
from . import spec as spec_mod
from .hydra_overrides import format_override
from .objective import finite_or_worst

Evaluate = Callable[[list[str], pathlib.Path, Callable[[int, float], bool]], float]


@dataclasses.dataclass(frozen=True)
class Job:
    """Everything a worker process needs to rebuild the study (must pickle for ``spawn``)."""

    spec_path: pathlib.Path
    overrides: tuple[str, ...]  # the spec's fixed overrides, then the command line's extras
    evaluate: Evaluate
    max_resource: int  # epochs per run: Hyperband's largest rung
    storage: str  # journal file path or database URL
    study_name: str
    out_dir: pathlib.Path  # one ordinary run directory per trial lands here
    seed: int | None = None


def open_storage(storage: str):
    if "://" in storage:
        return optuna.storages.RDBStorage(storage, heartbeat_interval=60, grace_period=180)
    path = pathlib.Path(storage)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def load_study(job: Job, spec: spec_mod.Spec) -> tuple[optuna.Study, str]:
    """The study (created on first use) with the spec's sampler and Hyperband pruner."""
    searched, _ = space_mod.search_space(spec)
    sampler, described = space_mod.make_sampler(spec, searched, job.seed)
    study = optuna.create_study(
        storage=open_storage(job.storage), study_name=job.study_name, load_if_exists=True,
        direction=spec.metric.goal, sampler=sampler,
        pruner=space_mod.make_pruner(spec, job.max_resource),
    )
    return study, described


def _worker_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_orphans(study: optuna.Study) -> int:
    """Mark failed the running trials whose worker process on this machine no longer exists
    (a killed sweep); they would otherwise count as pending for ever."""
    host, failed = socket.gethostname(), 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tag_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if tag_host == host and pid.isdigit() and not _alive(int(pid)):
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            failed += 1
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_objective(job: Job, spec: spec_mod.Spec):
    searched, constants = space_mod.search_space(spec)
    goal = spec.metric.goal

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", _worker_tag())
        params = {**constants, **space_mod.suggest(trial, searched)}
        overrides = [*job.overrides, *(format_override(k, v) for k, v in params.items())]
        run_dir = job.out_dir / f"trial_{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("overrides", overrides)
        stopped_at = []

        def report(epoch: int, value: float) -> bool:
            trial.report(value, epoch)
            # A rung at the final epoch would discard a run that has already cost its full
            # budget; its value is final, so it completes instead.
            if epoch < job.max_resource and trial.should_prune():
                stopped_at.append(epoch)
                return True
            return False

        value = job.evaluate(overrides, run_dir, report)
        if stopped_at:
            raise optuna.TrialPruned(f"stopped by Hyperband at epoch {stopped_at[0]}")
        return finite_or_worst(value, goal)

    return objective


def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """One line per finished trial: number, value, pruned or not, best so far."""
    if trial.state == TrialState.PRUNED:
        step = trial.last_step
        what = f"pruned at epoch {step} (value {trial.intermediate_values[step]:.6g} there)"
    elif trial.state == TrialState.COMPLETE:
        what = f"value {trial.value:.6g}"
    else:
        what = trial.state.name.lower()
    try:
        best = f"best {study.best_value:.6g} (trial {study.best_trial.number})"
    except ValueError:  # no completed trial yet
        best = "best: none complete yet"
    print(f"[{study.study_name}] trial {trial.number}: {what}; {best}", flush=True)


def run_worker(job: Job, n_trials: int, threads: int | None = None) -> None:
    """Run ``n_trials`` trials of the shared study in this process."""
    if threads:
        import torch
        torch.set_num_threads(threads)  # W workers on C cores: C // W threads each, not C each
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = spec_mod.load(job.spec_path)
    study, _ = load_study(job, spec)
    study.optimize(make_objective(job, spec), n_trials=n_trials, callbacks=[progress])


def run(job: Job, trials: int, workers: int = 1) -> optuna.Study:
    """Run ``trials`` more trials split over ``workers`` processes; return the study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = spec_mod.load(job.spec_path)
    study, described = load_study(job, spec)
    orphans = fail_orphans(study)
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    print(f"[{job.study_name}] {done} finished trials so far"
          + (f", {orphans} interrupted trial(s) marked failed" if orphans else "")
          + f"; running {trials} more on {workers} worker(s); sampler: {described}; "
          f"pruner: {type(study.pruner).__name__}; storage: {job.storage}", flush=True)
    shares = [trials // workers + (i < trials % workers) for i in range(workers)]
    if workers == 1:
        run_worker(job, trials)
        return study
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = multiprocessing.get_context("spawn")  # fork + torch threads can deadlock
    procs = [ctx.Process(target=run_worker, args=(job, n, threads)) for n in shares if n]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    if any(proc.exitcode for proc in procs):
        raise RuntimeError(f"worker exit codes {[p.exitcode for p in procs]}")
    return study


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:
        return None


def describe(study: optuna.Study) -> str:
    counts = {s.name.lower(): 0 for s in TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] += 1
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)

