"""Time-to-target, as AlgoPerf defines it (mlcommons/algorithmic-efficiency, docs/DOCUMENTATION.md,
"Scoring"): each workload has a target; a run's score is the training time until its validation
metric first reaches it, ∞ for a run that never does.

The target of a workload (:func:`target_of`):

- a function problem or XOR (:attr:`Criterion.CONVERGENCE`): the task's own convergence criterion
  (thesis §5.2: f − f* ≤ 1e-4 on Rosenbrock, loss ≤ 1e-2 on Rahimi–Recht, accuracy 1 and loss ≤ 1e-3
  on XOR) — those already are targets; a run reaches it at ``epochs_to_convergence``;
- a classification task (:attr:`Criterion.ACCURACY`): the median over seeds of the final validation
  accuracy of the best tuned first-order baseline — among the workload's optimisers of the
  first-order family (``suite.family`` in its config: ``suite.optimisers.presentation``), tuned cells
  only when any is tuned, the one with the highest median. Taking a median over re-runs of the best
  setting keeps a lucky seed from setting the target (AlgoPerf, "Defining target performance"; it
  takes the median of each seed's *best* validation error; we take the *final* one, which a user of
  the tuned config gets: :data:`TARGET_STATISTIC` is the one place to change that). Records without validation fields
  (older runs) fall back to test accuracy, and the target says so;
- a task beyond the thesis (:attr:`Criterion.THRESHOLD`): the threshold its workload declares with its reason
  (``comparison_settings.THRESHOLDS``: an L2 relative error at most, a PSNR at least — ``suite.run_record.GOALS``
  says which way); a run reaches it at the first epoch whose metric is there (``suite.records.rows_reaching``).

A run's time to target (:func:`run_times`) is read at the first epoch that reaches it (metrics are
evaluated once per epoch): that epoch, the training wall-clock until then (``wall_time_s``,
cumulative, evaluation excluded) and the gradient-equivalents until then (the nominal count,
gradients + HVPs: ``suite.records.NOMINAL``). Under a wall-clock budget (the self-tuning track) only
what a run reached within it counts: a run stops after the epoch that crosses its budget, and a target
first reached in that epoch, beyond the budget, is not reached. Only finished runs are scored; a failed
run is an error of the run, not a result of the optimiser, and is counted in the tables' ``runs`` column.

The self-tuning track shares the tuned track's targets, as AlgoPerf's rulesets share theirs
(:func:`target_from`: the first of several sources of runs that sets one, named in its ``why``).

A cell's time to target (:func:`cell_time`) is the *low* median of its runs' times, ∞ counted: the
time by which half of its seeds had reached the target. With an even number of seeds the usual
median averages the two middle runs; since exactly half of the baseline's runs end at or above the
median of their final accuracies, that average would be ∞ for the very baseline that set the target.
"""
from __future__ import annotations

import dataclasses
import math
import statistics

import pandas as pd

from suite.optimisers.presentation import Family, family, label
from suite.records import GRAD_EQ, NOMINAL, GradientEquivalents, Records, rows_reaching
from suite.reproduction import tuning as tuning_mod
from suite.reproduction.columns import number
from suite.reproduction.comparison_settings import Criterion, Workload
from suite.run_record import GOALS

# Per split, the metrics.csv column a run is read on; the summary field <statistic>_<column> sets the target.
SPLITS = {"validation": "val_acc", "test": "test_acc"}
# How tables and figures name a target's metrics.csv column.
METRIC_NAMES = {"val_acc": "validation accuracy", "test_acc": "test accuracy", "l2_relative_error": "L2 relative error",
                "test_psnr": "test PSNR (dB)"}
NEEDS_NO_RUNS = (Criterion.CONVERGENCE, Criterion.THRESHOLD)  # targets the workload itself states
TARGET_STATISTIC = "final"  # the median of the runs' final accuracies; "peak" would be AlgoPerf's best-achieved
# What a time to target is measured in: metrics.csv column -> its name in tables and figures.
MEASURES = {"wall_time_s": "wall-clock (s)", GRAD_EQ: "gradient-equivalents", "epoch": "epochs"}
TOLERANCE = 1e-9  # a median of two accuracies may differ from either in the last bit


@dataclasses.dataclass(frozen=True)
class Target:
    workload: Workload
    value: float | None = None  # the accuracy to reach (ACCURACY), the threshold (THRESHOLD); None: convergence
    metric: str | None = None  # the metrics.csv column compared with it: val_acc (else test_acc), a threshold's
    baseline: str | None = None  # the first-order optimiser whose median set it (ACCURACY)
    why: str = ""  # how it was set, or why there is none

    @property
    def defined(self) -> bool:
        return self.workload.criterion is Criterion.CONVERGENCE or self.value is not None

    @property
    def text(self) -> str:
        """``converged (the task's criterion)``, ``validation accuracy ≥ 0.653`` or ``L2 relative error ≤ 0.1``."""
        if self.workload.criterion is Criterion.CONVERGENCE:
            return "converged (the task's criterion)"
        if not self.defined:
            return "none"
        return f"{METRIC_NAMES[self.metric]} {'≤' if GOALS[self.metric] == 'min' else '≥'} {number(self.value)}"


def split_of(runs: Records) -> str:
    """``validation`` when the finished runs record a validation accuracy, else ``test`` (older records)."""
    return "validation" if runs.finished().stats(f"{TARGET_STATISTIC}_{SPLITS['validation']}").n else "test"


def target_of(runs: Records, workload: Workload) -> Target:
    """The workload's target from its runs (all cells of its setting): see the module docstring."""
    if workload.criterion is Criterion.CONVERGENCE:
        return Target(workload, why="the thesis's convergence criterion of the task (§5.2)")
    if workload.criterion is Criterion.THRESHOLD:
        threshold = workload.threshold
        return Target(workload, threshold.value, threshold.metric, why=f"declared: {threshold.why}")
    split = split_of(runs)
    metric = SPLITS[split]
    field = f"{TARGET_STATISTIC}_{metric}"  # e.g. final_val_acc (suite/run_record.py's RunSummary)
    finished = runs.finished()
    baselines = {optim: finished.where(optim=optim) for optim in runs.distinct("optim")
                 if family(optim) is Family.FIRST_ORDER and finished.where(optim=optim).stats(field).n}
    tuned = {optim: cell for optim, cell in baselines.items() if cell.distinct("tuned")}
    candidates = tuned or baselines
    if not candidates:
        return Target(workload, metric=metric, why="no target: no first-order baseline finished a run here")
    medians = {optim: cell.stats(field).median for optim, cell in candidates.items()}
    best = max(medians, key=medians.get)  # ties: the first in plan order
    others = ", ".join(f"{label(optim)} {number(value, 3)}" for optim, value in medians.items())
    fallback = "" if split == "validation" else " — no validation split in these records: test accuracy instead"
    why = (f"median {TARGET_STATISTIC} {split} accuracy over {candidates[best].stats(field).n} seeds of the best "
           f"{'tuned' if tuned else 'untuned'} first-order baseline, {label(best)} (medians: {others}){fallback}")
    return Target(workload, medians[best], metric, best, why)


def target_from(workload: Workload, sources) -> Target:
    """The target set by the first of ``sources`` — ``(what, runs)`` pairs, ``runs`` a callable giving
    :class:`Records`, called only when reached — whose runs set one, its ``why`` saying which runs it came from; if none
    does, the last source's (undefined) target. A convergence criterion or a declared threshold needs no runs."""
    if workload.criterion in NEEDS_NO_RUNS:
        return target_of(Records(), workload)
    found = Target(workload, why="no target: no runs to set it")
    for what, runs in sources:
        found = target_of(runs(), workload)
        found = dataclasses.replace(found, why=f"{found.why}; from {what}")
        if found.defined:
            return found
    return found


def first_reached(run: dict, curve: pd.DataFrame | None, target: Target,
                  within_s: float | None = None) -> pd.Series | None:
    """The metrics row of the first epoch at which the run reached the target, None if it never did
    (within ``within_s`` seconds of training, if given)."""
    if curve is None:
        return None
    if target.workload.criterion is Criterion.CONVERGENCE:
        epoch = run.get("epochs_to_convergence")
        hits = curve[curve["epoch"] == epoch] if epoch is not None and not pd.isna(epoch) else curve.iloc[:0]
    elif target.metric in curve:  # reached at or beyond the value (GOALS), an accuracy less the median's round-off
        value = target.value - TOLERANCE if target.workload.criterion is Criterion.ACCURACY else target.value
        hits = rows_reaching(curve, target.metric, value)
    else:
        return None
    if within_s is not None:
        hits = hits[pd.to_numeric(hits["wall_time_s"], errors="coerce") <= within_s]
    return hits.iloc[0] if not hits.empty else None


# What a times row carries of its run's cell beside the times: its tuned config and what tuning it cost.
CELL_COLUMNS = ("tuned", "tuning_s", "tuning_runs")
TIME_COLUMNS = ["setting", "task", "optimiser", "seed", "status", "reached", *MEASURES, *CELL_COLUMNS]


def run_times(runs: Records, target: Target, cost: GradientEquivalents = NOMINAL,
              within_s: float | None = None) -> pd.DataFrame:
    """One row per finished run of the workload: whether and when it reached the target (∞ if never) within
    ``within_s`` seconds of training (None: whenever)."""
    rows = []
    for run, curve in runs.finished().each_run(cost):
        hit = first_reached(run, curve, target, within_s)
        rows.append({"setting": target.workload.setting.name, "task": target.workload.label,
                     "optimiser": run["optim"], "seed": run["seed"], "status": run["status"],
                     "reached": hit is not None,
                     **{measure: float(hit[measure]) if hit is not None else math.inf for measure in MEASURES},
                     **{column: run.get(column) for column in CELL_COLUMNS}})
    return pd.DataFrame(rows, columns=TIME_COLUMNS)


def all_run_times(records: Records, found: list[Target], cost: GradientEquivalents = NOMINAL,
                  quick: bool = False) -> pd.DataFrame:
    """:func:`run_times` of every workload that has a target, one table; each within its setting's time budget."""
    frames = [run_times(records.where(setting=t.workload.setting.name), t, cost,
                        t.workload.setting.budget(quick).training_s) for t in found if t.defined]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TIME_COLUMNS)


def cell_time(values) -> float:
    """The low median of a cell's times to target, ∞ counted (module docstring); NaN for no run."""
    values = [float(v) for v in values if not math.isnan(float(v))]
    return statistics.median_low(values) if values else math.nan


def censored_median(values: pd.Series, digits: int = 3) -> str:
    """``t [min–max]``: :func:`cell_time` over all runs, [min–max] over those that reached the target;
    ``∞`` alone when none did."""
    reached = [float(v) for v in values if math.isfinite(float(v))]
    if not reached:
        return "∞" if len(values) else "—"
    spread = f" [{number(min(reached), digits)}–{number(max(reached), digits)}]" if len(values) > 1 else ""
    return f"{number(cell_time(values), digits)}{spread}"


def targets_table(targets: list[Target]) -> pd.DataFrame:
    """One row per workload: its target and how it was set."""
    return pd.DataFrame([{"task": t.workload.label, "target": t.text, "set by": t.why} for t in targets])


def summary_table(times: pd.DataFrame, targets: list[Target], tuning: bool = False) -> pd.DataFrame:
    """One row per workload × optimiser: how many runs reached the target, and the (low) median time
    over all of them (∞ counted) with [min–max] over those that reached it, in each measure. With
    ``tuning`` (the tuned track), what the cell's sweep cost and the wall-clock to target including it."""
    rows = []
    for target in targets:
        runs = times[times["setting"] == target.workload.setting.name]
        for optim, cell in runs.groupby("optimiser", sort=False):
            row = {"task": target.workload.label, "optimiser": optim, "target": target.text,
                   "reached": f"{int(cell['reached'].sum())}/{len(cell)}",
                   **{f"{name}, median [min–max]": censored_median(cell[measure])
                      for measure, name in MEASURES.items()}}
            if tuning:
                row[TUNING_COST] = tuning_mod.column(cell)
                row[INCLUDING_TUNING] = tuning_mod.including(cell, cell_time(cell["wall_time_s"]))
            rows.append(row)
    return pd.DataFrame(rows)


TUNING_COST = "tuning: sweep wall-clock (s), runs"
INCLUDING_TUNING = "wall-clock to target including tuning (s)"
