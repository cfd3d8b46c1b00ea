"""The embedded sweep engine: one W&B spec run as an Optuna study (thesis §5.2.5, docs/sweeps.md).

Storage decides who can share a study:

* a file path (default ``outputs/sweeps/<task>-<optim>/journal.log``): Optuna's
  ``JournalStorage`` + ``JournalFileBackend``, an append-only log that several processes on one
  machine write safely (SQLite does not like many writers, optuna#4002);
* a ``postgresql://`` or ``mysql://`` URL: ``RDBStorage``, for workers on many machines.

A worker killed mid-trial (SIGKILL, a crash, a machine that dies) loses nothing but that trial's
work: the trial is marked failed and its configuration is run again, once, as a new trial
(Optuna's ``RetryHeartbeatStaleTrialCallback``, which enqueues it); no trial stays "running" for
ever and none counts twice. Who notices the death:

* on this machine, the next start of a sweep (:func:`fail_orphans`): every trial carries its
  worker's tag — host, pid and the process's start time, so that a pid reused by a new process is
  not mistaken for the worker — and a trial whose worker process is gone is failed at once;
* across machines, the database's heartbeat (``RDBStorage`` only: Optuna has none for the
  journal, whose file lives on one machine): a trial without a heartbeat for ``GRACE_PERIOD_S`` is
  failed by the next worker that starts a trial.

Re-running the same command loads the same study and runs ``trials`` more (the retried trial is
one of them). Each process builds its storage, sampler and pruner once (:func:`open_study`); with one worker
that process is this one.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import multiprocessing
import os
import pathlib
import socket
import time
import warnings
from collections.abc import Callable

import optuna
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from suite import dispatch
from suite.config import REPO
from suite.run_record import read_summary

from . import space as space_mod
from .backend import (
    Anchor, Backend, Best, NoBestRun, Option, Search, SearchTrial, Sweep, positive_int, repo_relative,
)
from .hydra_overrides import format_override
from .objective import TrainRun, finite_or_worst
from .spec import Spec

Evaluate = Callable[[list[str], pathlib.Path, Callable[[int, float], bool]], float]


@dataclasses.dataclass(frozen=True)
class Job:
    """Everything a worker process needs to open the study and run trials (must pickle for
    ``spawn``)."""

    spec: Spec
    space: space_mod.SearchSpace  # the spec's parameters, translated once
    overrides: tuple[str, ...]  # the spec's fixed overrides, then the command line's extras
    evaluate: Evaluate
    max_resource: int  # epochs per run: Hyperband's largest rung
    storage: str  # journal file path or database URL
    study_name: str
    out_dir: pathlib.Path  # one ordinary run directory per trial lands here
    seed: int | None = None


HEARTBEAT_INTERVAL_S = 60  # RDB: a running trial writes its heartbeat this often ...
GRACE_PERIOD_S = 180  # ... and is failed (and retried) when none came for this long: three missed beats
MAX_RETRIES = 1  # a configuration whose worker died is run once more; one that kills it twice is given up
UNTAGGED_GRACE_S = 60  # a worker tags its trial within milliseconds of creating it (see fail_orphans)


def retry_as_new_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Enqueue a failed trial's configuration again, up to ``MAX_RETRIES`` times, with Optuna's callback for
    that (``RetryHeartbeatStaleTrialCallback``, ``RetryFailedTrialCallback`` before Optuna 4.9). The dead
    worker's tag is not copied: the worker that takes the retry tags it anew."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        callback = (retry or optuna.storages.RetryFailedTrialCallback)(max_retry=MAX_RETRIES)
    trial = copy.deepcopy(trial)
    trial.user_attrs = {key: value for key, value in trial.user_attrs.items() if key != "worker"}
    callback(study, trial)


def open_storage(storage: str):
    if "://" in storage:
        return _database(storage)
    path = pathlib.Path(storage)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def _database(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """``RDBStorage`` with the heartbeat. Workers started together on a fresh database race to create its
    tables, and all but one fail ("relation already exists", "duplicate key value violates unique constraint";
    optuna#1092): the losers try again once the winner has created them."""
    import sqlalchemy.exc  # only for databases; Optuna's RDBStorage needs it anyway

    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat arguments
                return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_INTERVAL_S,
                                                  grace_period=GRACE_PERIOD_S,
                                                  heartbeat_stale_trial_callback=retry_as_new_trial)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def open_study(job: Job) -> tuple[optuna.Study, str]:
    """The study (created on first use) with the spec's sampler and Hyperband pruner, and a
    description of the sampler."""
    sampler, described = space_mod.make_sampler(job.spec, job.space.searched, job.seed)
    study = optuna.create_study(
        storage=open_storage(job.storage), study_name=job.study_name, load_if_exists=True,
        direction=job.spec.metric.goal, sampler=sampler,
        pruner=space_mod.make_pruner(job.spec, job.max_resource),
    )
    return study, described


def _worker_tag(pid: int | None = None) -> str:
    """``host:pid:start`` of a worker process (start: its start time in clock ticks since boot, where
    ``/proc`` tells it; empty elsewhere)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]  # field 22, counted from the state (field 3) after "(comm)"


def _worker_is_gone(tag: str) -> bool:
    """The tagged worker ran on this machine and its process no longer exists (a pid now held by a process
    that started later is another process). A worker on another machine is the heartbeat's business."""
    host, _, rest = tag.partition(":")
    pid, _, start = rest.partition(":")  # tags written before the start time was recorded are host:pid
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if not _alive(int(pid)):
        return True
    return bool(start) and _start_time(int(pid)) not in ("", start)


def fail_orphans(study: optuna.Study) -> int:
    """Mark failed, and enqueue again (:func:`retry_as_new_trial`), the running trials whose worker process on this
    machine no longer exists (a killed sweep); they would otherwise count as running for ever.

    A worker tags its trial first thing (:func:`make_objective`), milliseconds after Optuna created it;
    a running trial still untagged after ``UNTAGGED_GRACE_S`` lost its worker in between."""
    failed = 0
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tag = trial.user_attrs.get("worker")
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        if (_worker_is_gone(str(tag)) if tag is not None else now - started > UNTAGGED_GRACE_S):
            try:
                if not study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:  # another process failed it first
                continue
            retry_as_new_trial(study, study._storage.get_trial(trial._trial_id))
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


def make_objective(job: Job):
    goal = job.spec.metric.goal

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", _worker_tag())
        params = {**job.space.constants, **space_mod.suggest(trial, job.space.searched)}
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
    retried = trial.system_attrs.get("failed_trial")  # set by the retry callback
    if retried is not None:
        what += f" (a retry of trial {retried}, whose worker died)"
    try:
        best = f"best {study.best_value:.6g} (trial {study.best_trial.number})"
    except ValueError:  # no completed trial yet
        best = "best: none complete yet"
    print(f"[{study.study_name}] trial {trial.number}: {what}; {best}", flush=True)


def optimize(study: optuna.Study, job: Job, n_trials: int) -> None:
    study.optimize(make_objective(job), n_trials=n_trials, callbacks=[progress])


def run_worker(job: Job, n_trials: int, threads: int | None) -> None:
    """A worker process (or submitit job): open the shared study and run ``n_trials`` trials of it."""
    dispatch.set_threads(threads)  # W workers on C cores: C // W threads each, not C each
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, _ = open_study(job)
    optimize(study, job, n_trials)


def run(job: Job, trials: int, workers: int | dispatch.Workers = 1) -> optuna.Study:
    """Run ``trials`` more trials split over ``workers`` processes (or submitit jobs); return the study."""
    workers = workers if isinstance(workers, dispatch.Workers) else dispatch.Workers(workers)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, described = open_study(job)
    orphans = fail_orphans(study)
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    print(f"[{job.study_name}] {done} finished trials so far"
          + (f", {orphans} interrupted trial(s) marked failed and queued again" if orphans else "")
          + f"; running {trials} more on {workers}; sampler: {described}; "
          f"pruner: {type(study.pruner).__name__}; storage: {job.storage}", flush=True)
    if workers.in_this_process:
        optimize(study, job, trials)
        return study
    shares = [n for i in range(workers.count) if (n := trials // workers.count + (i < trials % workers.count))]
    if workers.executor == "local":
        threads = max(1, (os.cpu_count() or 1) // workers.count)
        ctx = multiprocessing.get_context("spawn")  # fork + torch threads can deadlock
        procs = [ctx.Process(target=run_worker, args=(job, n, threads)) for n in shares]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        if any(proc.exitcode for proc in procs):
            raise RuntimeError(f"worker exit codes {[p.exitcode for p in procs]}")
        return study
    threads = max(1, (os.cpu_count() or 1) // workers.count) if workers.executor == "submitit_local" else None
    with workers.pool(job.out_dir / "submitit", f"sweep-{job.study_name}") as pool:
        futures = [pool.submit(run_worker, job, n, threads) for n in shares]
    errors = [f"{type(e).__name__}: {e}" for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(futures)} worker jobs failed: {'; '.join(errors)}")
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



class LocalBackend(Backend):
    """The embedded engine: an Optuna study on this machine (or shared through a database)."""

    name = "local"
    options = (
        Option("--storage", "journal file path (default outputs/sweeps/<study>/journal.log) or "
                            "postgresql:// / mysql:// URL shared by machines"),
        Option("--study-name", "default <task>-<optim>-robust (--protocol thesis: <task>-<optim>)"),
        Option("--workers", "worker processes on this machine", type=positive_int, default=1),
        Option("--seed", "sampler seed (leave unset with several workers)", type=int),
        Option("--out", "trial run directories (default outputs/sweeps/<study>)", type=pathlib.Path),
        Option("--executor", f"where the workers and re-runs go: {', '.join(dispatch.EXECUTORS)} (default local: "
                             "processes of this machine; submitit_*: submitit jobs with the resources of "
                             "conf/hydra/launcher/<executor>.yaml, docs/scaling.md)",
               type=dispatch.executor_name, default="local"),
        Option("--executor-options", "KEY=VALUE[,...]: change keys of that file, e.g. partition=gpu",
               type=dispatch.options),
    )
    instead = "the local engine uses no W&B project or entity: its study lives in --storage"

    def job(self, sweep: Sweep, args: argparse.Namespace) -> Job:
        spec = sweep.spec
        study_name = args.study_name or spec.study_name
        out = args.out or REPO / "outputs" / "sweeps" / study_name
        return Job(spec=spec, space=sweep.space, overrides=sweep.trial_overrides,
                   evaluate=TrainRun(spec.metric.name, spec.metric.goal), max_resource=sweep.epochs,
                   storage=args.storage or str(out / "journal.log"), study_name=study_name,
                   out_dir=out, seed=args.seed)

    def run(self, sweep: Sweep, trials: int, args: argparse.Namespace) -> Best:
        spec, job = sweep.spec, self.job(sweep, args)
        study = run(job, trials, dispatch.Workers.of(args))
        print(f"[{job.study_name}] {describe(study)}")
        best = best_trial(study)
        if best is None:
            raise NoBestRun("no trial completed: nothing to write")
        summary = read_summary(pathlib.Path(best.user_attrs["run_dir"]))
        return Best(
            # What the trial ran: the spec's constants too, not only what the sampler chose.
            params={**sweep.space.constants, **best.params},
            value=best.value,
            provenance=(f"Best of study {job.study_name!r} ({repo_relative(spec.path)}): trial "
                        f"{best.number} of {len(study.trials)}, {spec.metric.name} = {best.value:.6g}",
                        f"Run directory: {repo_relative(best.user_attrs['run_dir'])}"),
            summary=summary.to_json() if summary is not None else None,
        )

    def search(self, sweep: Sweep, trials: int, args: argparse.Namespace, anchors: list[Anchor]) -> Search:
        """The default protocol's search: the anchors (Optuna's ``enqueue_trial``) before any
        sampled trial, then sampled trials until ``trials`` have finished; a study that already
        has them (the same command again, after a kill or to re-select) runs nothing."""
        spec, job = sweep.spec, self.job(sweep, args)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study, _ = open_study(job)
        orphans = fail_orphans(study)  # first, so that a killed anchor is queued again
        if orphans:
            print(f"[{job.study_name}] {orphans} interrupted trial(s) marked failed", flush=True)
        waiting = enqueue_anchors(study, anchors)
        done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        more = max(trials - done, waiting)
        if more:
            study = run(job, more, dispatch.Workers.of(args))
        else:
            print(f"[{job.study_name}] {done} finished trials: the search is complete (give --trials "
                  f"above {done} to extend it)", flush=True)
        print(f"[{job.study_name}] {describe(study)}")
        completed = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
                           key=lambda t: (t.value if spec.metric.goal == "minimize" else -t.value, t.number))
        return Search(
            study=job.study_name, out_dir=job.out_dir,
            trials=tuple(SearchTrial(t.number, {**sweep.space.constants, **t.params}, t.value,
                                     pathlib.Path(t.user_attrs["run_dir"]), t.user_attrs.get("anchor"))
                         for t in completed),
            provenance=f"study {job.study_name!r} ({repo_relative(spec.path)}, {len(completed)} completed trials)",
        )


def enqueue_anchors(study: optuna.Study, anchors: list[Anchor]) -> int:
    """Queue each anchor the study has not run or queued yet (labelled by its name); return how
    many trials wait. A failed anchor (its worker was killed) is queued again; a running one
    belongs to a live worker."""
    kept = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.WAITING, TrialState.RUNNING)
    present = {t.user_attrs.get("anchor") for t in study.get_trials(deepcopy=False, states=kept)}
    for anchor in anchors:
        if anchor.name not in present:
            study.enqueue_trial(dict(anchor.params), user_attrs={"anchor": anchor.name})
    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
