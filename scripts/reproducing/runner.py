"""Run the planned runs through ``train.run`` — or reuse the ones already finished.

Every run is an ordinary ``train.py`` run (DESIGN.md §7: scripts never train by other means) in
its own directory. A run is reused when its ``summary.json`` has a final status and the same
resolved config (threads and device aside), so an interrupted reproduction resumes where it
stopped and a changed protocol or a new tuned config is re-run rather than mixed in. A run that
crashes is recorded as ``failed`` with its error and the reproduction goes on; it stays in the
tables (DESIGN.md §5).
"""
from __future__ import annotations

import contextlib
import json
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
from omegaconf import DictConfig

from scripts.collect_runs import summary_row
from scripts.reproducing.protocol import RunSpec
from tasks.runtime import checkpoint
from train import compose_config, run

FINAL = {"completed", "converged", "diverged"}  # "failed", "pruned", "running": run again
SPEC_COLUMNS = ["setting", "optim", "variant", "seed", "tuned", "sweep_command", "error"]


def previous(spec: RunSpec, cfg: DictConfig) -> dict | None:
    """The summary already in the run's directory, if it is of this very config."""
    try:
        summary = json.loads((spec.run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return summary if checkpoint.comparable(summary.get("config", {})) == checkpoint.comparable(cfg) else None


def run_one(spec: RunSpec) -> tuple[dict, bool]:
    """(summary, reused). Never raises for a failing run, only for Ctrl-C."""
    try:
        cfg = compose_config(list(spec.overrides))
    except Exception as error:  # noqa: BLE001 — a bad override is one failed cell, not a dead reproduction
        return {"status": "failed", "error": f"{type(error).__name__}: {error}"}, False
    summary = previous(spec, cfg)
    if summary is not None and summary.get("status") in FINAL:
        return summary, True
    # An interrupted run of this config that saved checkpoints (the CIFAR-10 tasks do) continues
    # from its last epoch; a checkpoint of another config is never resumed.
    cfg.resume = summary is not None and (spec.run_dir / checkpoint.NAME).is_file()
    try:
        return run(cfg, spec.run_dir), False
    except Exception as error:  # noqa: BLE001 — train.run has recorded `failed` where it got that far
        try:
            summary = json.loads((spec.run_dir / "summary.json").read_text())
        except (OSError, ValueError):
            summary = {"status": "failed"}
        return {**summary, "status": "failed", "error": f"{type(error).__name__}: {error}"}, False


def progress_line(i: int, n: int, spec: RunSpec, summary: dict, reused: bool) -> str:
    status = summary["status"]
    if status == "converged":
        status += f" at epoch {summary['epochs_to_convergence']}"
    elif status == "failed":
        status += f" ({summary.get('error', 'no error recorded')})"
    else:
        status += f" after {summary.get('epochs_run')} epochs"
    seconds = summary.get("wall_time_s")
    timing = f", {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
    variant = f" {spec.setting.variant_key}={spec.variant}" if spec.variant else ""
    return (f"[{i}/{n}] {spec.setting.name}/{spec.optim}{variant} seed {spec.seed}: {status}{timing}"
            f"{' (reused)' if reused else ''}  {spec.run_dir}")


def run_all(specs: list[RunSpec], report: Callable[[str], None] = print, jobs: int = 1) -> pd.DataFrame:
    """Run or reuse every spec, one progress line each; one record row per spec, in order.

    ``jobs`` > 1 runs that many at once in separate processes (each run is independent and writes
    only its own directory); the progress lines still come in plan order, each once its run and
    the runs before it have ended.
    """
    rows = []
    with contextlib.ExitStack() as stack:
        results = map(run_one, specs)  # lazy: each run reports as it ends
        if jobs > 1:  # spawn: a forked child would inherit the parent's torch thread pools
            pool = stack.enter_context(ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")))
            results = pool.map(run_one, specs)
        for i, (spec, (summary, reused)) in enumerate(zip(specs, results), 1):
            report(progress_line(i, len(specs), spec, summary, reused))
            rows.append({**summary_row(summary, run_dir=spec.run_dir), "setting": spec.setting.name,
                         "optim": spec.optim, "variant": spec.variant, "seed": spec.seed, "tuned": spec.tuned,
                         "sweep_command": spec.sweep_command, "error": summary.get("error")})
    columns = [*SPEC_COLUMNS, *summary_row({}, run_dir=None)]  # the same columns when nothing ran
    return pd.DataFrame(rows, columns=list(dict.fromkeys(columns)))
