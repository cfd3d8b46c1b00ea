"""Where the runs of ``scripts/reproduce.py`` and ``scripts/sweep.py`` go: processes of this machine, or submitit
jobs on it or on a SLURM cluster (``--executor``; docs/scaling.md, "Dispatching runs").

Both scripts decide which runs are already finished before anything is dispatched (a finished run is reused,
never submitted), then hand the rest to a ``concurrent.futures.Executor``:

- ``local`` — a pool of ``jobs`` processes of this machine (``spawn``: a forked child would inherit the parent's
  torch thread pools), each with its share of the CPU threads;
- ``submitit_local``, ``submitit_slurm`` — :class:`SubmititPool`, submitit jobs as futures, at most ``jobs``
  submitted at a time. The jobs' resources are those of ``conf/hydra/launcher/<executor>.yaml``, the file
  ``python train.py -m hydra/launcher=<executor>`` uses (one place for the cluster's settings), changed by
  ``--executor-options KEY=VALUE,…``; each job's log and pickled result land under the script's output folder.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import multiprocessing
import os
import pathlib
import threading

import yaml
from omegaconf import OmegaConf

from suite.config import CONF_DIR

EXECUTORS = ("local", "submitit_local", "submitit_slurm")
CLUSTERS = {"submitit_local": "local", "submitit_slurm": "slurm"}  # submitit's names
POLL_S = 1.0  # how often a running job is asked whether it has ended (SLURM's answers are cached by submitit)


def executor_name(text: str) -> str:
    """An argparse type: one of :data:`EXECUTORS`."""
    if text not in EXECUTORS:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(EXECUTORS)}")
    return text


def options(text: str) -> tuple[tuple[str, object], ...]:
    """An argparse type: ``KEY=VALUE[,KEY=VALUE…]``, keys of a launcher config, values read as YAML
    (``partition=gpu,timeout_min=60``)."""
    pairs = []
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE[,KEY=VALUE...], got {text!r}")
        pairs.append((key.strip(), yaml.safe_load(value)))
    return tuple(pairs)


@dataclasses.dataclass(frozen=True)
class Workers:
    """How many runs (or sweep workers) go at once, and where: ``--workers``/``--jobs``, ``--executor``,
    ``--executor-options``."""

    count: int = 1
    executor: str = "local"
    options: tuple[tuple[str, object], ...] = ()

    @classmethod
    def of(cls, args: argparse.Namespace) -> Workers:
        """From a command's options (absent ones: one worker, this machine)."""
        return cls(getattr(args, "workers", None) or 1, getattr(args, "executor", None) or "local",
                   tuple(getattr(args, "executor_options", None) or ()))

    @property
    def in_this_process(self) -> bool:
        return self.count == 1 and self.executor == "local"

    def pool(self, folder: pathlib.Path, name: str, threads: int | None = None) -> concurrent.futures.Executor:
        return pool(self.executor, self.count, folder, name, dict(self.options), threads)

    def __str__(self) -> str:
        if self.executor == "local":
            return f"{self.count} worker(s)"
        return f"{self.executor} jobs, {self.count} at a time"


def launcher_parameters(executor: str, changes: dict) -> dict:
    """The settings of ``conf/hydra/launcher/<executor>.yaml`` with ``changes``; keys that refer to a Hydra sweep
    (``submitit_folder``, ``name``) and ``_target_`` are the script's to set."""
    known = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "hydra" / "launcher" / f"{executor}.yaml"))
    unknown = set(changes) - set(known)
    if unknown:
        raise ValueError(f"--executor-options {', '.join(sorted(unknown))}: not a key of "
                         f"conf/hydra/launcher/{executor}.yaml ({', '.join(sorted(known))})")
    settings = {**known, **changes}
    return {key: value for key, value in settings.items() if key not in ("_target_", "submitit_folder", "name")}


def submitit_executor(executor: str, folder: pathlib.Path, name: str, changes: dict):
    """A submitit executor set up as the Hydra launcher plugin sets up its own from the same config
    (``hydra_plugins.hydra_submitit_launcher.submitit_launcher.BaseSubmititLauncher.launch``)."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    cluster, params = CLUSTERS[executor], launcher_parameters(executor, changes)
    init = {f"{cluster}_max_num_timeout": params.pop("max_num_timeout")} if "max_num_timeout" in params else {}
    made = submitit.AutoExecutor(folder=folder, cluster=cluster, **init)
    generic = set(OmegaConf.structured(BaseQueueConf).keys())
    made.update_parameters(name=name, **{key if key in generic else f"{cluster}_{key}": value
                                         for key, value in params.items()})
    return made


def pool(executor: str, jobs: int, folder: pathlib.Path, name: str, changes: dict | None = None,
         threads: int | None = None) -> concurrent.futures.Executor:
    """Run submitted calls as ``executor`` says, ``jobs`` at a time, each with ``threads`` torch threads (``None``:
    ``local`` shares this machine's cores out, submitit jobs keep torch's default, i.e. their CPUs)."""
    if executor == "local":
        if changes:
            raise ValueError("--executor-options is for the submitit executors")
        threads = threads or max(1, (os.cpu_count() or 1) // jobs)
        return concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                                      initializer=start_worker, initargs=(threads, memory_share(jobs)))
    return SubmititPool(submitit_executor(executor, folder, name, changes or {}), jobs, threads)  # files named by job id


def memory_share(jobs: int) -> int | None:
    """Bytes of address space each of ``jobs`` local workers may take: this machine's memory, less a tenth for the
    rest of it, shared out (None where the machine does not say). A run that wants more then fails alone, with
    the allocation's error in its record, where the kernel's out-of-memory killer would end its worker, and with
    it the pool and every run still in it."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return int(physical * 0.9) // jobs


def address_space() -> int | None:
    """Bytes of address space this process has mapped (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def start_worker(threads: int | None, memory: int | None) -> None:
    """A local pool's worker: its torch threads, and its share of the memory (``memory_share``) as a limit on the
    address space it maps beyond what it has at start (torch's libraries alone map ~3 GB of it) — on CPU only:
    CUDA reserves address space far beyond any machine's memory."""
    set_threads(threads)
    import torch

    mapped = address_space()
    if memory is None or mapped is None or torch.cuda.is_available():
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + memory if hard == resource.RLIM_INFINITY else min(mapped + memory, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)  # W processes on C cores: C // W threads each, not C each


def call_with_threads(threads: int | None, fn, *args, **kwargs):
    """What a submitit job runs: ``fn(*args, **kwargs)`` with ``threads`` torch threads."""
    set_threads(threads)
    return fn(*args, **kwargs)


class SubmititPool(concurrent.futures.Executor):
    """submitit jobs as futures: ``submit`` queues a call, at most ``jobs`` of them are submitted jobs at a time,
    and a future is done when its job has ended (its result, or the job's error: a crash, a timeout, a
    cancellation). Leaving a ``with`` block by an exception (Ctrl-C) cancels the queued calls and the submitted
    jobs, so that no job goes on writing a run the same command, started again, would run once more."""

    def __init__(self, executor, jobs: int, threads: int | None = None):
        self._executor, self._jobs, self._threads = executor, jobs, threads
        self._queued: collections.deque = collections.deque()
        self._running: list = []  # (future, job)
        self._lock, self._wake = threading.Lock(), threading.Event()
        self._closing = False
        self._watcher = threading.Thread(target=self._watch, name="submitit-pool", daemon=True)
        self._watcher.start()

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
        future = concurrent.futures.Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("cannot submit to a pool that is shutting down")
            self._queued.append((future, fn, args, kwargs))
        self._wake.set()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closing = True
            if cancel_futures:
                while self._queued:
                    self._queued.popleft()[0].cancel()
                for _, job in self._running:
                    job.cancel(check=False)
        self._wake.set()
        if wait:
            try:
                self._watcher.join()
            except BaseException:  # Ctrl-C while waiting for the jobs: as leaving by an exception
                self.shutdown(wait=False, cancel_futures=True)
                raise

    def __exit__(self, kind, error, traceback) -> bool:
        self.shutdown(wait=kind is None, cancel_futures=kind is not None)
        return False

    def _watch(self) -> None:
        while True:
            with self._lock:
                self._collect()
                self._start()
                if self._closing and not self._queued and not self._running:
                    return
            self._wake.wait(POLL_S)
            self._wake.clear()

    def _collect(self) -> None:
        for future, job in [(f, j) for f, j in self._running if j.done()]:
            self._running.remove((future, job))
            try:
                future.set_result(job.result())
            except Exception as error:  # noqa: BLE001 — the job's failure is the future's
                future.set_exception(error)

    def _start(self) -> None:
        while self._queued and len(self._running) < self._jobs:
            future, fn, args, kwargs = self._queued.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                job = self._executor.submit(call_with_threads, self._threads, fn, *args, **kwargs)
            except Exception as error:  # noqa: BLE001 — e.g. sbatch refused the job
                future.set_exception(error)
                continue
            self._running.append((future, job))
