"""What one table cell says about a group of runs (a cell's :class:`~suite.records.Records`), as text.

Shared by the thesis tables (``tables.py``), the ablation's (``ablation.py``) and the comparison's
(``comparison.py``, ``targets.py``): how a number is printed (∞ for a target never reached), the
spread over seeds (std, or a 95 % confidence interval), how the runs ended, whether the cell was
tuned, and epochs to convergence counted as in Table 5.1 (thesis §5.3.1; docs/results.md, "How the
table cells are computed").
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from suite.records import Records, SeedStats
from suite.run_record import RunStatus

EPOCHS = "ours: epochs, median [min–max]"
# Why the median seed has no epochs to convergence, by how the finished runs ended.
NOT_CONVERGED = {RunStatus.DIVERGED: "diverged", RunStatus.COMPLETED: "not converged"}


def number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return "∞" if value == math.inf else f"{value:.{digits}g}"


def mean_std(stats: SeedStats, digits: int = 3) -> str:
    """``mean ± std`` over seeds (one seed: the value alone); ``—`` when there is none."""
    if stats.n == 0:
        return "—"
    if stats.n == 1:
        return number(stats.mean, digits)
    return f"{number(stats.mean, digits)} ± {number(stats.std, 2)}"


def mean_ci(stats: SeedStats, digits: int = 3) -> str:
    """``mean ± 95 % CI half-width (n = k)`` over seeds (Student's t; one seed: the value alone); ``—`` when none."""
    if stats.n == 0:
        return "—"
    spread = f" ± {number(stats.ci95, 2)}" if stats.n > 1 else ""
    return f"{number(stats.mean, digits)}{spread} (n = {stats.n})"


def interval(low: float, high: float, coverage: float, level: float = 0.95, digits: int = 4) -> str:
    """A confidence interval ``[low–high]``, its coverage named when below ``level`` (few seeds)."""
    if math.isnan(low):
        return "—"
    short = f" ({100 * coverage:.3g} % coverage)" if coverage < level - 1e-12 else ""
    return f"[{number(low, digits)}–{number(high, digits)}]{short}"


def median_range(values: pd.Series, digits: int = 3) -> str:
    """``median [min–max]`` over seeds (one seed: the value alone)."""
    stats = SeedStats.of(values)
    if stats.n == 1:
        return number(stats.median, digits)
    return f"{number(stats.median, digits)} [{number(stats.min, digits)}–{number(stats.max, digits)}]"


def per_epoch(runs: Records, column: pd.Series) -> SeedStats:
    """A per-run total (a column of ``runs``, or a series on its rows) divided by the epochs the run ran,
    over the finished runs."""
    finished = runs.finished()
    return SeedStats.of(column.loc[finished.frame.index] / finished.column("epochs_run").replace(0, np.nan))


def runs_column(cell: Records) -> str:
    """How a cell's runs ended, e.g. ``2/3 converged, 1 diverged``; failures name their error."""
    counts = cell.status_counts()
    text = ", ".join(f"{n} {status}" for status, n in counts.items())
    if RunStatus.CONVERGED in counts:
        rest = ", ".join(f"{n} {status}" for status, n in counts.items() if status != RunStatus.CONVERGED)
        text = f"{counts[RunStatus.CONVERGED]}/{len(cell)} converged" + (f", {rest}" if rest else "")
    errors = cell.where(status=RunStatus.FAILED.value).distinct("error")
    return text + "".join(f" ({e})" for e in errors)


def config_column(cell: Records) -> str:
    """Tuned (which file) or the optimiser's defaults, with the sweep that would tune them."""
    tuned, sweeps = cell.distinct("tuned"), cell.distinct("sweep_command")
    if tuned:
        return f"tuned: +tuned={tuned[0]}"
    return f"untuned defaults (tune: `{sweeps[0]}`)" if sweeps else "defaults, by design"


def epochs_column(cell: Records) -> str:
    """The median over finished seeds of the epochs to convergence, a seed that never converged
    counting as beyond the budget, with [min–max] over the converged seeds."""
    finished = cell.finished()
    if finished.empty:
        return "failed"
    converged = finished.converged().column("epochs_to_convergence")
    median = float(np.median([*converged, *[math.inf] * (len(finished) - len(converged))]))
    if math.isinf(median):
        reasons = (NOT_CONVERGED[status] for status in finished.distinct("status") if status in NOT_CONVERGED)
        return "N/A (" + " / ".join(reasons) + ")"
    return f"{number(median)} [{number(converged.min())}–{number(converged.max())}]"
