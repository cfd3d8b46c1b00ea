"""The default protocol's re-runs: chosen settings trained again on further seeds at the full
budget (docs/sweeps.md, "Protocols"), each an ordinary run through ``suite.training.run``.

A re-run whose run directory already holds a finished run of the very same config (its
``summary.json`` has a final status, and ``suite.checkpoint.comparable`` configs agree) is reused,
not run again — as the reproduction does — so the same sweep command continues after a kill and
re-selects without training when everything is there. Several re-runs go at once on ``workers``
processes, each with its share of the CPU threads, as the search's workers do, or as submitit jobs
(``--executor``, :mod:`suite.dispatch`).
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import pathlib
from collections.abc import Callable

from suite import checkpoint, dispatch
from suite.config import REPO, compose_config
from suite.run_record import read_summary
from suite.training import run  # the one training loop (docs/design.md §1)


@dataclasses.dataclass(frozen=True)
class Rerun:
    """One setting on one seed: the overrides ``train.py`` would get, and where the run lives."""

    overrides: tuple[str, ...]
    run_dir: pathlib.Path


@dataclasses.dataclass(frozen=True)
class Done:
    """What became of a re-run: its summary.json (None if it never wrote one) and how it went."""

    summary: dict | None
    reused: bool = False
    error: str | None = None


def run_one(rerun: Rerun) -> Done:
    """Train ``rerun``, or reuse its finished run. Never raises for a failing run (it scores the
    worst value), only for Ctrl-C."""
    done = reused(rerun)
    if done is not None:
        return done
    try:
        return Done(run(compose_config(list(rerun.overrides)), rerun.run_dir).to_json())
    except Exception as error:  # noqa: BLE001 — suite.training.run has recorded `failed` where it got that far
        summary = read_summary(rerun.run_dir)
        return Done(summary.to_json() if summary else None, error=f"{type(error).__name__}: {error}")


def reused(rerun: Rerun) -> Done | None:
    """The finished run of this very config in the re-run's directory, if there is one."""
    previous = read_summary(rerun.run_dir)
    if previous is not None and previous.status.is_final \
            and checkpoint.comparable(previous.config) == checkpoint.comparable(compose_config(list(rerun.overrides))):
        return Done(previous.to_json(), reused=True)
    return None


def run_all(reruns: list[Rerun], workers: int | dispatch.Workers = 1,
            on_done: Callable[[int, Done], None] = lambda i, done: None,
            folder: pathlib.Path | None = None) -> list[Done]:
    """Run or reuse every re-run, ``workers`` at a time: processes of this machine or submitit jobs, whose files
    go under ``folder`` (:mod:`suite.dispatch`); finished ones are found first and never dispatched.
    ``on_done(index, done)`` as each ends."""
    workers = workers if isinstance(workers, dispatch.Workers) else dispatch.Workers(workers)
    results: list[Done | None] = [None] * len(reruns)
    if workers.in_this_process or len(reruns) <= 1 and workers.executor == "local":
        for i, rerun in enumerate(reruns):
            results[i] = run_one(rerun)
            on_done(i, results[i])
        return results
    futures = {}
    with workers.pool(folder or REPO / "outputs" / "submitit", "sweep-reruns") as pool:
        for i, rerun in enumerate(reruns):
            results[i] = reused(rerun)
            if results[i] is not None:
                on_done(i, results[i])
            else:
                futures[pool.submit(run_one, rerun)] = i
        for future in concurrent.futures.as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except Exception as error:  # noqa: BLE001 — the process or job died: the run scores the worst
                summary = read_summary(reruns[i].run_dir)
                results[i] = Done(summary.to_json() if summary else None, error=f"{type(error).__name__}: {error}")
            on_done(i, results[i])
    return results
