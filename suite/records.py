"""Many run records as one table, and the questions every report asks of them.

:class:`Records` holds one row per run — its :class:`~suite.run_record.RunSummary` fields, any config
keys asked for (dotted: ``optim.krylov_dim``) and whatever labels the caller adds (the
reproduction's setting and variant) — and answers with small methods: :meth:`Records.where`
(filter; :meth:`Records.cell` is a report's one way to pick a cell), :meth:`Records.groups`
(group), :meth:`Records.stats` (seed statistics with a 95 % confidence interval; for a censored
number such as epochs to convergence, :func:`median_interval`) and :meth:`Records.curves` /
:meth:`Records.each_run` (the runs' ``metrics.csv``, read once, with their cost in
:class:`GradientEquivalents`). The reproduction's tables, figures and ablation and
``scripts/collect_runs.py`` read runs through it, so a status (a finished run is one whose
:class:`~suite.run_record.RunStatus` is final), a field name, a statistic or a cost means the same thing
everywhere (docs/design.md §5).
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from .run_record import COSTS, FINAL, GOALS, METRICS, OUTCOMES, SUMMARY, RunStatus, RunSummary

IDENTITY = ("task", "optim", "seed", "status")


def config_value(config: dict, dotted: str):
    """``config["optim"]["krylov_dim"]`` for ``"optim.krylov_dim"``; None where a key is missing.

    Lists and mappings come back as their JSON text, so that they can label a group.
    """
    value = config
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def summary_row(summary: RunSummary | None, keys: Iterable[str] = (), run_dir: pathlib.Path | str | None = None,
                **labels) -> dict:
    """One run's row: the ``keys`` (summary fields or dotted config keys), its identity, outcomes and
    directory, then every other field of its summary but the config — so a field a newer record has
    (the validation metrics) is a column without being named here, and missing in older records.

    ``summary=None`` (a run that left no record) gives the identity and outcome columns, empty.
    """
    data = summary.to_json() if summary is not None else {}
    row = {key: data[key] if key in data else config_value(data.get("config", {}), key) for key in keys}
    row.update({key: data.get(key) for key in (*IDENTITY, *OUTCOMES, "error")})
    row.update({key: value for key, value in data.items() if key not in row and key != "config"})
    row["run_dir"] = str(run_dir) if run_dir is not None else data.get("run_dir")
    return {**labels, **row}


@dataclasses.dataclass(frozen=True)
class SeedStats:
    """A number over seeds: how many, mean, standard deviation, 95 % confidence half-width (Student's t), median, range."""

    n: int
    mean: float
    std: float
    ci95: float
    median: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Iterable) -> "SeedStats":
        values = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").astype(float)
        values = values[np.isfinite(values)]
        n = len(values)
        if n == 0:
            return cls(0, *[math.nan] * 6)
        std = float(values.std()) if n > 1 else math.nan
        ci95 = float(scipy_stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)) if n > 1 else math.nan
        return cls(n, float(values.mean()), std, ci95, float(values.median()), float(values.min()), float(values.max()))


def median_interval(values: Iterable[float], level: float = 0.95) -> tuple[float, float, float]:
    """A distribution-free confidence interval for the median over seeds: ``(low, high, coverage)``.

    The interval between two order statistics, [x_(j), x_(n+1−j)], covers the median with
    probability 1 − 2·P(Binomial(n, ½) < j) whatever the distribution (Conover, *Practical
    Nonparametric Statistics*, §3.2); j is the largest with coverage ≥ ``level``. It suits censored
    numbers: a run that never reached a target counts as ∞ and only moves the order statistics
    above it, so the interval is exact where it is finite and ends at ∞ where it is not. With
    n ≤ 5 seeds no such interval reaches 95 %: it is then [min, max] with its smaller coverage
    (5 seeds: 93.75 %). NaN values (no outcome) are left out; no value gives NaNs.
    """
    ordered = np.sort(np.asarray([v for v in values if not math.isnan(v)], dtype=float))
    n = len(ordered)
    if n == 0:
        return math.nan, math.nan, math.nan
    below = scipy_stats.binom.cdf(np.arange(n), n, 0.5)  # P(B ≤ k) for k = 0 … n−1, increasing
    j = max(1, int(np.sum(below <= (1 - level) / 2 + 1e-12)))  # the largest j with coverage ≥ level
    return float(ordered[j - 1]), float(ordered[n - j]), 1 - 2 * float(below[j - 1])


@dataclasses.dataclass(frozen=True)
class GradientEquivalents:
    """A run's cost in gradients: gradient evaluations + ``hvp`` × HVPs + ``forward`` × extra forward passes.

    Extra forward passes are the loss evaluations beyond the gradients' (KryBall's trial points, a
    line search's probes). One KryBall epoch costs several gradients and one ideal-LBFGS epoch up
    to 25, so the epoch axis alone flatters both (thesis §5.3). :data:`NOMINAL` counts an HVP as one
    gradient (Pearlmutter, 1994) and a forward pass as free; a *measured* weighting
    (``suite.reproduction.cost.measured``) uses the times of the three on a task's model.
    """

    hvp: float
    forward: float
    measured_on: str | None = None  # what the weights were timed on; None for the nominal count

    def of(self, rows: pd.DataFrame) -> pd.Series:
        """Cumulative cost of each row: per-epoch metrics or run summaries (their counts are cumulative)."""
        extra_forwards = (rows["loss_evals"] - rows["gradient_evals"]).clip(lower=0)
        return rows["gradient_evals"] + self.hvp * rows["hvps"] + self.forward * extra_forwards

    @property
    def axis_label(self) -> str:
        if self.measured_on is None:
            return "gradient-equivalents (gradients + HVPs)"
        return (f"gradient-equivalents (gradients + {self.hvp:.2f} × HVPs + {self.forward:.2f} × extra forwards, "
                "measured)")


NOMINAL = GradientEquivalents(hvp=1.0, forward=0.0)
GRAD_EQ = "grad_eq"  # the column Records.curves adds


def rows_reaching(curve: pd.DataFrame, metric: str, value: float) -> pd.DataFrame:
    """The rows of a run's ``metrics.csv`` at which ``metric`` has reached ``value``: at least it, at most it for a
    metric that improves downwards (a loss, an error; ``suite.run_record.GOALS``); none where the curve lacks the
    metric. The first is when the run reached it (``collect_runs --reach``; the comparison's time to target)."""
    if metric not in curve:
        return curve.iloc[:0]
    column = pd.to_numeric(curve[metric], errors="coerce")
    return curve[column <= value] if GOALS[metric] == "min" else curve[column >= value]


class Records:
    """One row per run (see the module docstring). Immutable: every query returns new Records.

    Records derived from one another share one cache of the ``metrics.csv`` files read, so a
    report that draws a run in several panels reads its file once.
    """

    def __init__(self, frame: pd.DataFrame | None = None, _curves: dict | None = None):
        self.frame = frame if frame is not None else pd.DataFrame(columns=[*IDENTITY, *OUTCOMES, "error", "run_dir"])
        self._curves = {} if _curves is None else _curves  # run directory -> its metrics.csv (None: none)

    def _derive(self, frame: pd.DataFrame) -> "Records":
        return Records(frame, self._curves)

    @classmethod
    def load(cls, folders: Iterable[pathlib.Path], keys: Iterable[str] = ()) -> "Records":
        """Every ``summary.json`` below ``folders``, with the config ``keys`` as columns."""
        rows = []
        for folder in folders:
            for path in sorted(pathlib.Path(folder).rglob(SUMMARY)):
                summary = RunSummary.from_json(json.loads(path.read_text()))
                rows.append(summary_row(summary, keys, path.parent))
        return cls(pd.DataFrame(rows)) if rows else cls()

    @classmethod
    def with_curves(cls, frame: pd.DataFrame, curves: dict[str, pd.DataFrame]) -> "Records":
        """Rows whose ``run_dir`` is a key of ``curves`` rather than a directory: their curves are given, not read
        from a ``metrics.csv`` (a report rebuilt from committed per-run results, suite/reproduction/per_run.py)."""
        return cls(frame, {pathlib.Path(key): curve for key, curve in curves.items()})

    @classmethod
    def from_rows(cls, rows: list[dict], labels: Iterable[str] = ()) -> "Records":
        """Rows made by :func:`summary_row` with the caller's ``labels`` (the same columns when there are none).
        Every column any row has is kept: a run that left no record has fewer than one that did."""
        columns = [*labels, *summary_row(None)]
        return cls(pd.DataFrame(rows, columns=list(dict.fromkeys([*(key for row in rows for key in row), *columns]))))

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def empty(self) -> bool:
        return self.frame.empty

    def where(self, **conditions) -> "Records":
        """Rows whose column equals the value (a list, tuple or set: is one of them; None: is missing)."""
        mask = pd.Series(True, index=self.frame.index)
        for column, wanted in conditions.items():
            values = self.frame[column] if column in self.frame else pd.Series(None, index=self.frame.index)
            if wanted is None:
                mask &= values.isna()
            elif isinstance(wanted, (list, tuple, set, frozenset)):
                mask &= values.isin(list(wanted))
            else:
                mask &= values == wanted
        return self._derive(self.frame[mask])

    def cell(self, setting: str, optim: str, variant: str | None = None) -> "Records":
        """The runs of one report cell: a setting's runs of one optimiser and, where the setting
        studies several values or options, of one of them (None: a setting without variants)."""
        return self.where(setting=setting, optim=optim, variant=variant)

    def finished(self) -> "Records":
        """Runs that ended by themselves (completed, converged or diverged): the ones whose outcomes count."""
        return self.where(status=[status.value for status in FINAL])

    def converged(self) -> "Records":
        return self.where(status=RunStatus.CONVERGED.value)

    def sorted(self, *columns: str) -> "Records":
        return self._derive(self.frame.sort_values(list(columns), kind="stable"))

    def groups(self, *keys: str) -> Iterator[tuple[tuple, "Records"]]:
        """``(values of keys, Records)`` per group, in order of first appearance."""
        if self.empty:
            return
        for values, frame in self.frame.groupby(list(keys), sort=False, dropna=False):
            yield (values if isinstance(values, tuple) else (values,)), self._derive(frame)

    def distinct(self, column: str) -> list:
        """The column's values, each once, in order of first appearance (missing values left out)."""
        return list(dict.fromkeys(self.frame[column].dropna())) if column in self.frame else []

    def rows(self) -> list[dict]:
        return self.frame.to_dict("records")

    def column(self, name: str) -> pd.Series:
        return pd.to_numeric(self.frame[name], errors="coerce") if name in self.frame else pd.Series(dtype=float)

    def stats(self, name: str) -> SeedStats:
        """Seed statistics of a numeric column (missing and non-finite values left out)."""
        return SeedStats.of(self.column(name))

    def status_counts(self) -> dict[str, int]:
        return self.frame["status"].value_counts().to_dict() if not self.empty else {}

    def gradient_equivalents(self, cost: GradientEquivalents = NOMINAL) -> pd.Series:
        """Each run's total cost in gradients (of its whole run; to convergence for a converged run)."""
        return cost.of(pd.DataFrame({name: self.column(name) for name in COSTS}, index=self.frame.index))

    def curves(self, cost: GradientEquivalents = NOMINAL) -> list[pd.DataFrame]:
        """The per-epoch ``metrics.csv`` of every run that left one, in seed order, with their
        cumulative cost in the column ``grad_eq``."""
        frame = self.frame.sort_values("seed", kind="stable") if "seed" in self.frame else self.frame
        curves = (self._read(pathlib.Path(d)) for d in frame["run_dir"].dropna())
        return [curve.assign(**{GRAD_EQ: cost.of(curve)}) for curve in curves if curve is not None]

    def each_run(self, cost: GradientEquivalents = NOMINAL) -> Iterator[tuple[dict, pd.DataFrame | None]]:
        """Every run's row with its ``metrics.csv`` (cost in ``grad_eq``; None where it left none), in seed order."""
        frame = self.frame.sort_values("seed", kind="stable") if "seed" in self.frame else self.frame
        for row in frame.to_dict("records"):
            curve = self._read(pathlib.Path(row["run_dir"])) if isinstance(row.get("run_dir"), str) else None
            yield row, (curve.assign(**{GRAD_EQ: cost.of(curve)}) if curve is not None else None)

    def _read(self, run_dir: pathlib.Path) -> pd.DataFrame | None:
        if run_dir not in self._curves:
            path = run_dir / METRICS
            curve = pd.read_csv(path) if path.is_file() else None
            self._curves[run_dir] = curve if curve is not None and not curve.empty else None
        return self._curves[run_dir]

    def to_csv(self, path: pathlib.Path) -> None:
        self.frame.to_csv(path, index=False)


def summarise(records: Records, by: list[str], outcomes: Iterable[str] = OUTCOMES) -> pd.DataFrame:
    """Per group: runs, statuses, and median and mean ± std (95 % CI) of each outcome present."""
    rows = []
    for values, group in records.groups(*by):
        row = dict(zip(by, values), runs=len(group),
                   status=", ".join(f"{k} {v}" for k, v in group.status_counts().items()))
        for name in outcomes:
            stats = group.stats(name)
            if stats.n:
                row[f"{name} median"] = stats.median
                spread = f" ± {stats.std:.2g} (95% CI ± {stats.ci95:.2g})" if stats.n > 1 else ""
                row[f"{name} mean±std"] = f"{stats.mean:.4g}{spread}"
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(by, kind="stable", na_position="last").reset_index(drop=True) if rows else table
