"""Run the planned runs through ``suite.training.run`` — or reuse the ones already finished.

Every run is an ordinary ``train.py`` run (scripts never train by other means) in its own
directory. A run is reused when its ``summary.json`` has a final status and the same resolved
config (threads and device aside), so an interrupted reproduction resumes where it stopped and a
changed protocol or a new tuned config is re-run rather than mixed in. A run that crashes is
recorded as ``failed`` with its error and the reproduction goes on; it stays in the tables.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

from omegaconf import DictConfig

from suite import checkpoint, dispatch
from suite.config import REPO, compose_config
from suite.records import Records, summary_row
from suite.reproduction.run_plan import RunSpec
from suite.run_record import RunStatus, RunSummary, read_summary
from suite.training import run


PLAN_COLUMNS = ("setting", "variant", "tuned", "sweep_command")  # what each record row says of its plan


@dataclasses.dataclass
class Outcome:
    """What became of one planned run: its summary (None if it never got one), an error, whether it was reused."""

    summary: RunSummary | None
    error: str | None = None
    reused: bool = False

    @property
    def status(self) -> RunStatus:
        return RunStatus.FAILED if self.error or self.summary is None else self.summary.status


def previous(spec: RunSpec, cfg: DictConfig) -> RunSummary | None:
    """The summary already in the run's directory, if it is of this very config."""
    summary = read_summary(spec.run_dir)
    if summary is None or checkpoint.comparable(summary.config) != checkpoint.comparable(cfg):
        return None
    return summary


def settled(spec: RunSpec) -> Outcome | None:
    """The outcome of a spec that needs no run — finished before with this very config (reused), or a bad override
    (failed) — and ``None`` for one that must run."""
    try:
        cfg = compose_config(list(spec.overrides))
    except Exception as error:  # noqa: BLE001 — a bad override is one failed cell, not a dead reproduction
        return Outcome(None, f"{type(error).__name__}: {error}")
    summary = previous(spec, cfg)
    if summary is not None and summary.status.is_final:
        return Outcome(summary, reused=True)
    return None


def run_one(spec: RunSpec) -> Outcome:
    """Run or reuse one spec. Never raises for a failing run, only for Ctrl-C."""
    outcome = settled(spec)
    if outcome is not None:
        return outcome
    cfg = compose_config(list(spec.overrides))
    summary = previous(spec, cfg)
    # An interrupted run of this config that saved checkpoints (the CIFAR-10 tasks do) continues
    # from its last epoch; a checkpoint of another config is never resumed.
    cfg.resume = summary is not None and (spec.run_dir / checkpoint.NAME).is_file()
    try:
        return Outcome(run(cfg, spec.run_dir))
    except Exception as error:  # noqa: BLE001 — suite.training.run has recorded `failed` where it got that far
        return Outcome(read_summary(spec.run_dir), f"{type(error).__name__}: {error}")


def progress_line(i: int, n: int, spec: RunSpec, outcome: Outcome) -> str:
    summary, status = outcome.summary, outcome.status
    text = status.value
    if status == RunStatus.CONVERGED:
        text += f" at epoch {summary.epochs_to_convergence}"
    elif status == RunStatus.FAILED:
        text += f" ({outcome.error or 'no error recorded'})"
    else:
        text += f" after {summary.epochs_run} epochs"
    timing = f", {summary.wall_time_s:.1f} s" if summary is not None else ""
    variant = f" {spec.setting.variant_key}={spec.variant}" if spec.variant else ""
    return (f"[{i}/{n}] {spec.setting.name}/{spec.optim}{variant} seed {spec.seed}: {text}{timing}"
            f"{' (reused)' if outcome.reused else ''}  {spec.run_dir}")


def run_all(specs: list[RunSpec], report: Callable[[str], None] = print, jobs: int = 1,
            workers: dispatch.Workers | None = None, folder: Path | None = None) -> Records:
    """Run or reuse every spec, one progress line each; one record row per spec, in order.

    ``jobs`` > 1 runs that many at once, each in its own process (each run is independent and writes only its
    own directory); ``workers`` says the same with where: processes of this machine, or submitit jobs, their
    files under ``folder`` (:mod:`suite.dispatch`). Finished runs are found first and never dispatched. The
    progress lines come in plan order, each once its run and the runs before it have ended.
    """
    workers = workers or dispatch.Workers(jobs)
    rows = []
    with contextlib.ExitStack() as stack:
        results = map(run_one, specs)  # lazy: each run reports as it ends
        if not workers.in_this_process:
            pool = stack.enter_context(workers.pool(folder or REPO / "outputs" / "submitit", "kryball-reproduce"))
            results = dispatched(specs, pool)
        for i, (spec, outcome) in enumerate(zip(specs, results), 1):
            report(progress_line(i, len(specs), spec, outcome))
            rows.append(record_row(spec, outcome))
    return Records.from_rows(rows, labels=PLAN_COLUMNS)


def record_row(spec: RunSpec, outcome: Outcome) -> dict:
    """The record row of a planned run: its plan's labels, then its summary's fields."""
    labels = dict(setting=spec.setting.name, variant=spec.variant, tuned=spec.tuned, sweep_command=spec.sweep_command)
    row = summary_row(outcome.summary, run_dir=spec.run_dir, **labels)
    row.update(optim=spec.optim, seed=spec.seed, status=outcome.status.value, error=outcome.error or row.get("error"))
    return row


def finished_records(specs: list[RunSpec]) -> Records:
    """The record rows of those specs that finished before with their very config; nothing is run."""
    outcomes = ((spec, settled(spec)) for spec in specs)
    return Records.from_rows([record_row(spec, outcome) for spec, outcome in outcomes
                              if outcome is not None and outcome.reused], labels=PLAN_COLUMNS)


def dispatched(specs: list[RunSpec], pool: concurrent.futures.Executor) -> Iterator[Outcome]:
    """The specs' outcomes in plan order: the settled ones at once, the others run by ``pool``; a run whose
    process or job died (a crash, a timeout) is ``failed`` with that error and the record it left."""
    pending = [settled(spec) or pool.submit(run_one, spec) for spec in specs]
    for spec, item in zip(specs, pending):
        if isinstance(item, Outcome):
            yield item
            continue
        try:
            yield item.result()
        except Exception as error:  # noqa: BLE001 — one lost run, not a dead reproduction
            yield Outcome(read_summary(spec.run_dir), f"{type(error).__name__}: {error}")
