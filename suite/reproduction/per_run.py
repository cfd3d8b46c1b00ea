"""A track's report as committed per-run results, and back (the files and their columns:
``suite/comparison_results.py``; docs/results.md, "Per-run results").

:func:`publish` writes a :class:`~suite.reproduction.comparison.Measured` — the runs, their targets and
times to target — as one row per run and workload, with each accuracy workload's thinned curves and
the index of what the runs trained on; :func:`load` reads it back into a ``Measured`` from which
``comparison.write`` and ``comparison.markdown_block`` build the very tables and figures the runs gave
(tested: tests/test_comparison_results.py). Nothing under ``outputs/`` is needed to rebuild them.
"""
from __future__ import annotations

import dataclasses
import math
import pathlib

import numpy as np
import pandas as pd

from suite import comparison_results as files
from suite.records import Records
from suite.reproduction import targets
from suite.reproduction.comparison import Measured
from suite.reproduction.comparison_settings import Criterion, Track, Workload
from suite.reproduction.targets import CELL_COLUMNS, MEASURES
from suite.run_record import FINAL, read_summary
from suite.sweeps import tuned_results

# The per-run columns of a run's time to target, by the times table's measure (targets.MEASURES).
TO_TARGET = {"epoch": "epochs_to_target", "wall_time_s": "wall_time_to_target_s", "grad_eq": "grad_eq_to_target"}
CURVE_POINTS = 30  # epochs kept per run in the curves file: log-spaced, as the figure's axes


def _plain(value):
    """A value of a records frame as the file holds it: missing (NaN, None) as None."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA else value


def rows_of(measured: Measured, workload: Workload) -> list[dict]:
    """One per-run row for every run of the workload (failed ones included), in plan order."""
    target = measured.target(workload)
    times = measured.times[measured.times["setting"] == workload.setting.name].set_index(["optimiser", "seed"])
    rows = []
    for run in measured.records.where(setting=workload.setting.name).rows():
        row = {column.name: _plain(run.get(column.name)) for column in files.COLUMNS}
        row.update(optimiser=run["optim"], target=target.text, target_value=target.value,
                   target_metric=target.metric, target_baseline=target.baseline, target_set_by=target.why)
        if (run["optim"], run["seed"]) in times.index:
            time = times.loc[(run["optim"], run["seed"])]
            row["reached"] = bool(time["reached"])
            row.update({column: float(time[measure]) for measure, column in TO_TARGET.items()})
        rows.append(row)
    return rows


def thinned(curve: pd.DataFrame, keep_epoch: float | None, points: int = CURVE_POINTS) -> pd.DataFrame:
    """About ``points`` rows of a run's curve, log-spaced in epochs, with its last epoch and ``keep_epoch`` (the
    first to reach the target) among them."""
    epochs = curve["epoch"].to_numpy()
    wanted = set(np.unique(np.geomspace(1, max(int(epochs.max()), 1), points).round().astype(int)).tolist())
    wanted.add(int(epochs.max()))
    if keep_epoch is not None and math.isfinite(keep_epoch):
        wanted.add(int(keep_epoch))
    return curve[curve["epoch"].isin(wanted)]


def curves_of(measured: Measured, workload: Workload) -> list[dict]:
    """Each finished run's thinned curve of the target's metric (an accuracy, a threshold's), for the time-to-target
    figure; none under the convergence criterion."""
    target = measured.target(workload)
    if workload.criterion is Criterion.CONVERGENCE or not target.defined:
        return []
    times = measured.times.set_index(["setting", "optimiser", "seed"])["epoch"]
    rows = []
    for run, curve in measured.records.where(setting=workload.setting.name).finished().each_run():
        if curve is None or target.metric not in curve:
            continue
        hit = times.get((workload.setting.name, run["optim"], run["seed"]))
        for point in thinned(curve, hit).to_dict("records"):
            rows.append({**point, "optimiser": run["optim"], "seed": run["seed"], "value": point[target.metric]})
    return rows


def index_entry(measured: Measured, workload: Workload) -> dict | None:
    """What the workload's runs trained on, from the record of one of them: what a later run must share."""
    for run_dir in measured.records.where(setting=workload.setting.name).finished().frame["run_dir"].dropna():
        summary = read_summary(pathlib.Path(run_dir))
        if summary is not None and summary.config:
            config = summary.config
            return {"label": workload.label, "setting": workload.setting.name, "task": config["task"],
                    "epochs": config["epochs"], "time_budget_s": config.get("time_budget_s"),
                    "published": tuned_results.now(),
                    "machine": dataclasses.asdict(tuned_results.machine(summary.device)),
                    "code_version": summary.code_version}
    return None


def publish(measured: Measured, workloads: list[Workload], track: Track,
            folder: pathlib.Path = files.FOLDER) -> list[pathlib.Path]:
    """Write the per-run results of every workload with runs (replacing its files), and its index entry."""
    written, index = [], {}
    for workload in workloads:
        if measured.records.where(setting=workload.setting.name).empty:
            continue
        path = files.path(folder, track.name, workload.task)
        files.write(path, rows_of(measured, workload))
        written.append(path)
        curves, curves_path = curves_of(measured, workload), files.curves_path(folder, track.name, workload.task)
        if curves:
            files.write(curves_path, curves, files.CURVE_COLUMNS)
            written.append(curves_path)
        elif curves_path.exists():
            curves_path.unlink()
        if (entry := index_entry(measured, workload)) is not None:
            index[workload.task] = entry
    files.write_index(folder, track.name, index)
    return written


def target_of_row(workload: Workload, row: dict) -> targets.Target:
    """The workload's target as a per-run row states it (every row of a workload states the same)."""
    return targets.Target(workload, row["target_value"], row["target_metric"], row["target_baseline"],
                          row["target_set_by"] or "")


def frame_of(rows: list[dict], track: str, task: str) -> pd.DataFrame:
    """Per-run rows as a records frame: ``optim`` for ``optimiser``, and a ``run_dir`` that keys each run's curve."""
    frame = pd.DataFrame(rows).rename(columns={"optimiser": "optim"})
    frame["run_dir"] = [f"{track}/{task}/{optim}/seed{seed}" for optim, seed in zip(frame["optim"], frame["seed"])]
    return frame


def times_of(frame: pd.DataFrame, workload: Workload) -> pd.DataFrame:
    """The times to target of a workload's finished runs (``targets.TIME_COLUMNS``) from its per-run rows (a frame of
    :func:`frame_of`), as ``targets.run_times`` gave them."""
    scored = frame[frame["status"].isin([status.value for status in FINAL]) & frame["reached"].notna()]
    scored = scored.sort_values("seed", kind="stable")  # as targets.run_times lists them (Records.each_run)
    return pd.DataFrame({
        "setting": workload.setting.name, "task": workload.label, "optimiser": scored["optim"],
        "seed": scored["seed"], "status": scored["status"], "reached": scored["reached"].astype(bool),
        **{measure: scored[TO_TARGET[measure]].astype(float) for measure in MEASURES},
        **{column: scored[column] for column in CELL_COLUMNS}}, columns=targets.TIME_COLUMNS)


def load(track: Track, folder: pathlib.Path = files.FOLDER) -> Measured:
    """The track's :class:`Measured` from its per-run results (the workloads that have a file)."""
    frames, curves, found, times = [], {}, [], []
    for workload in track.workloads:
        path = files.path(folder, track.name, workload.task)
        if not path.is_file():
            continue
        rows = files.read(path)
        if not rows:
            continue
        target = target_of_row(workload, rows[0])
        found.append(target)
        frame = frame_of(rows, track.name, workload.task)
        frames.append(frame)
        curves_path = files.curves_path(folder, track.name, workload.task)
        if curves_path.is_file() and target.metric:
            points = pd.DataFrame(files.read(curves_path, files.CURVE_COLUMNS))
            for (optim, seed), curve in points.groupby(["optimiser", "seed"], sort=False):
                curves[f"{track.name}/{workload.task}/{optim}/seed{seed}"] = (
                    curve.drop(columns=["optimiser", "seed"]).rename(columns={"value": target.metric})
                    .reset_index(drop=True))
        times.append(times_of(frame, workload))
    if not frames:
        raise files.FormatError(f"{pathlib.Path(folder) / track.name}: no per-run results of the {track.name} track "
                                f"(written by `python scripts/reproduce.py comparison --track {track.name} --publish`)")
    records = Records.with_curves(pd.concat(frames, ignore_index=True), curves)
    times_frame = pd.concat(times, ignore_index=True) if times else pd.DataFrame(columns=targets.TIME_COLUMNS)
    return Measured(records, found, times_frame)


def loaded_records(track: Track, task: str, folder: pathlib.Path = files.FOLDER) -> Records | None:
    """One workload's runs from its per-run results (setting, optim, tuned, status, final numbers), None if
    the track has no file for it: where the other track's target is read from (``targets.target_from``)."""
    path = files.path(folder, track.name, task)
    if not path.is_file():
        return None
    return Records(pd.DataFrame(files.read(path)).rename(columns={"optimiser": "optim"}))
