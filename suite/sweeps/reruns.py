"""The default protocol's re-runs: chosen settings trained again on further seeds at the full
budget (docs/sweeps.md, "Protocols"), each an ordinary run through ``suite.training.run``.

A re-run whose run directory already holds a finished run of the very same config (its
``summary.json`` has a final status, and ``suite.checkpoint.comparable`` configs agree) is reused,
not run again — as the reproduction does — so the same sweep command continues after a kill and
re-selects without training when everything is there. Several re-runs go at once on ``workers``
processes, each with its share of the CPU threads, as the search's workers do.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
import pathlib
from collections.abc import Callable

from suite import checkpoint
from suite.config import compose_config
from suite.record import read_summary
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
    cfg = compose_config(list(rerun.overrides))
    previous = read_summary(rerun.run_dir)
    if previous is not None and previous.status.is_final \
            and checkpoint.comparable(previous.config) == checkpoint.comparable(cfg):
        return Done(previous.to_json(), reused=True)
    try:
        return Done(run(cfg, rerun.run_dir).to_json())
    except Exception as error:  # noqa: BLE001 — suite.training.run has recorded `failed` where it got that far
        summary = read_summary(rerun.run_dir)
        return Done(summary.to_json() if summary else None, error=f"{type(error).__name__}: {error}")


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)  # W processes on C cores: C // W threads each, not C each


def run_all(reruns: list[Rerun], workers: int = 1,
            on_done: Callable[[int, Done], None] = lambda i, done: None) -> list[Done]:
    """Run or reuse every re-run (``workers`` at a time); ``on_done(index, done)`` as each ends."""
    results: list[Done | None] = [None] * len(reruns)
    if workers == 1 or len(reruns) <= 1:
        for i, rerun in enumerate(reruns):
            results[i] = run_one(rerun)
            on_done(i, results[i])
        return results
    threads = max(1, (os.cpu_count() or 1) // workers)
    with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),  # fork + torch threads can deadlock
            initializer=_set_threads, initargs=(threads,)) as pool:
        futures = {pool.submit(run_one, rerun): i for i, rerun in enumerate(reruns)}
        for future in concurrent.futures.as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            on_done(i, results[i])
    return results
