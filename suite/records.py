"""Many run records as one table, and the questions every report asks of them.

:class:`Records` holds one row per run — its :class:`~suite.record.RunSummary` fields, any config
keys asked for (dotted: ``optim.krylov_dim``) and whatever labels the caller adds (the
reproduction's setting and variant) — and answers with small methods: :meth:`Records.where`
(filter), :meth:`Records.groups` (group), :meth:`Records.stats` (seed statistics with a 95 %
confidence interval) and :meth:`Records.curves` (the runs' ``metrics.csv``). Tables, figures, the
ablation, ``scripts/collect_runs.py`` and the sweeps all read runs through it, so a status, a
field name or a statistic means the same thing everywhere.
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

from .record import FINAL, METRICS, OUTCOMES, SUMMARY, RunSummary, Status

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
    """One run's row: the ``keys`` (summary fields or dotted config keys), its identity, outcomes and directory.

    ``summary=None`` (a run that left no record) gives the same columns, empty.
    """
    data = summary.to_json() if summary is not None else {}
    row = {key: data[key] if key in data else config_value(data.get("config", {}), key) for key in keys}
    row.update({key: data.get(key) for key in (*IDENTITY, *OUTCOMES, "error")})
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


class Records:
    """One row per run (see the module docstring). Immutable: every query returns new Records."""

    def __init__(self, frame: pd.DataFrame | None = None):
        self.frame = frame if frame is not None else pd.DataFrame(columns=[*IDENTITY, *OUTCOMES, "error", "run_dir"])

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
    def from_rows(cls, rows: list[dict], labels: Iterable[str] = ()) -> "Records":
        """Rows made by :func:`summary_row` with the caller's ``labels`` (the same columns when there are none)."""
        columns = [*labels, *summary_row(None)]
        return cls(pd.DataFrame(rows, columns=list(dict.fromkeys([*(rows[0] if rows else {}), *columns]))))

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
        return Records(self.frame[mask])

    def finished(self) -> "Records":
        """Runs that ended by themselves (completed, converged or diverged): the ones whose outcomes count."""
        return self.where(status=[status.value for status in FINAL])

    def converged(self) -> "Records":
        return self.where(status=Status.CONVERGED.value)

    def groups(self, *keys: str) -> Iterator[tuple[tuple, "Records"]]:
        """``(values of keys, Records)`` per group, in order of first appearance."""
        if self.empty:
            return
        for values, frame in self.frame.groupby(list(keys), sort=False, dropna=False):
            yield (values if isinstance(values, tuple) else (values,)), Records(frame)

    def column(self, name: str) -> pd.Series:
        return pd.to_numeric(self.frame[name], errors="coerce") if name in self.frame else pd.Series(dtype=float)

    def stats(self, name: str) -> SeedStats:
        """Seed statistics of a numeric column (missing and non-finite values left out)."""
        return SeedStats.of(self.column(name))

    def status_counts(self) -> dict[str, int]:
        return self.frame["status"].value_counts().to_dict() if not self.empty else {}

    def curves(self) -> list[pd.DataFrame]:
        """The per-epoch ``metrics.csv`` of every run that left one, in seed order."""
        frame = self.frame.sort_values("seed") if "seed" in self.frame else self.frame
        paths = [pathlib.Path(d) / METRICS for d in frame["run_dir"].dropna()]
        return [f for f in (pd.read_csv(p) for p in paths if p.is_file()) if not f.empty]


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
