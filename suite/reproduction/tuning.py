"""What tuning a cell of the comparison's tuned track cost: the wall-clock and the number of runs of the sweep
that wrote its tuned config, as its results file records them (``conf/tuned/<tuned>.results.json``:
``duration_s.total``, and ``search.trials`` plus the re-runs of its ``candidates``; docs/sweeps.md, "The
results file"). A study resumed after a kill records only its last command's duration, so the wall-clock
is a lower bound there.

The time to a result *including* tuning is that wall-clock plus the cell's time to target: what a user
who tunes by the default protocol before training waits for (AlgoPerf counts tuning apart, in its
trials; here it is shown beside the time to target alone, so both readings are there).
"""
from __future__ import annotations

import math
import pathlib

import pandas as pd

from suite.records import Records
from suite.reproduction.columns import number
from suite.sweeps import tuned_results
from suite.sweeps import tuned as tuned_configs

SECONDS, RUNS = "tuning_s", "tuning_runs"  # the record columns (and per-run results columns) it adds
UNTUNED = "untuned"


def cost_of(tuned: str | None, tuned_dir: pathlib.Path = tuned_configs.TUNED_DIR) -> dict:
    """``{tuning_s, tuning_runs}`` of a ``+tuned=`` name from its results file (None each where unknown)."""
    results = tuned_results.read(pathlib.Path(tuned_dir) / f"{tuned}{tuned_results.SUFFIX}") if tuned else None
    if results is None:
        return {SECONDS: None, RUNS: None}
    trials = results.search.trials
    reruns = sum(len(candidate.values or ()) for candidate in results.candidates or ())
    return {SECONDS: results.duration_s.total, RUNS: trials + reruns if isinstance(trials, int) else None}


def with_costs(records: Records, tuned_dir: pathlib.Path = tuned_configs.TUNED_DIR) -> Records:
    """The records with each run's cell's tuning cost as the columns :data:`SECONDS` and :data:`RUNS`."""
    frame = records.frame.copy()
    tuned = frame["tuned"] if "tuned" in frame else pd.Series(None, index=frame.index, dtype=object)
    costs = {name: cost_of(name, tuned_dir) for name in tuned.dropna().unique()}
    for column in (SECONDS, RUNS):
        frame[column] = tuned.map(lambda name, c=column: costs[name][c] if isinstance(name, str) else None)
    return Records(frame)


def _tuned_seconds(cell: pd.DataFrame) -> tuple[bool, float | None]:
    """Whether the cell (its rows: records or times) was tuned, and its sweep's wall-clock if recorded."""
    tuned = "tuned" in cell and cell["tuned"].notna().any()
    seconds = pd.to_numeric(cell[SECONDS], errors="coerce").dropna() if SECONDS in cell else pd.Series(dtype=float)
    return tuned, float(seconds.iloc[0]) if tuned and not seconds.empty else None


def column(cell: pd.DataFrame) -> str:
    """``864 s, 32 runs`` for a tuned cell (its rows: records or times), ``untuned`` for one without a tuned config."""
    tuned, seconds = _tuned_seconds(cell)
    if not tuned:
        return UNTUNED
    if seconds is None:
        return "tuned (cost not recorded)"
    runs = pd.to_numeric(cell[RUNS], errors="coerce").dropna() if RUNS in cell else pd.Series(dtype=float)
    return f"{number(seconds, 3)} s" + (f", {int(runs.iloc[0])} runs" if not runs.empty else "")


def including(cell: pd.DataFrame, time_to_target: float) -> str:
    """The sweep's wall-clock plus the cell's wall-clock to target (∞ stays ∞), or ``untuned``."""
    tuned, seconds = _tuned_seconds(cell)
    if not tuned:
        return UNTUNED
    return "—" if seconds is None or math.isnan(time_to_target) else number(seconds + time_to_target, 3)
