"""The comparison's committed per-run results: their one definition, written and read here.

Under ``conf/tuned/comparison/<track>/`` (:data:`FOLDER`; docs/results.md, "Per-run results"), for each
workload of a track (``tuned``, ``self_tuning``) that ran:

- ``<task>.csv`` — one row per run, the columns of :data:`COLUMNS`: what the run was (setting, optimiser,
  seed, tuned config), how it ended and its final numbers (the fields of ``summary.json`` the tables
  show), its workload's target and its time to it in each measure, and, on the tuned track, what tuning
  its cell cost. Small enough to commit (a row is a few hundred bytes);
- ``<task>.curves.csv`` — for a workload whose target is a value of a metric (an accuracy, a threshold), each
  run's curve of that metric on a few dozen epochs (:data:`CURVE_COLUMNS`), for the time-to-target figure;
- ``index.json`` — per task, what its runs trained on (the resolved ``task`` config, ``epochs`` and
  ``time_budget_s``): what a later run must share to be placed against them (``suite/standing.py``).

The map of where KryBall stands (``scripts/reproduce.py map``) keeps its own in the same columns, one file per track
for all its regimes: ``map/<track>.csv`` (:func:`map_path`).

``scripts/reproduce.py comparison --publish`` writes them and ``--from-results`` rebuilds the track's
tables and figures from them alone (``suite/reproduction/per_run.py`` turns a report's records into rows
and back). Numbers are written as Python prints them (``repr``: read back exactly); ``inf`` is a time to
target never reached; an empty field is a missing value. This module imports nothing of the
reproduction, so that ``train.py`` can read the files without the reporting layer.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import pathlib

from .config import REPO
from .run_record import write_atomic

FOLDER = REPO / "conf" / "tuned" / "comparison"
# The comparison's tracks, by the names of their folders (suite/reproduction/comparison_settings.py declares them).
TUNED, SELF_TUNING = "tuned", "self_tuning"
TRACKS = (TUNED, SELF_TUNING)
INDEX = "index.json"
MAP = "map"  # the folder of the map's per-run results
CURVES_SUFFIX = ".curves.csv"


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    kind: type  # str, int, float or bool: how the text is read back
    about: str


COLUMNS = (
    Column("setting", str, "the track's setting of the workload: comparison_<task> or self_tuning_<task>"),
    Column("optimiser", str, "the optim= choice"),
    Column("seed", int, "the run's seed"),
    Column("status", str, "how the run ended: completed, converged, diverged or failed (suite/run_record.py)"),
    Column("tuned", str, "the +tuned= config the run used; empty: the optimiser's defaults"),
    Column("sweep_command", str, "for a tunable cell without a tuned config, the sweep that would tune it"),
    Column("error", str, "a failed run's error"),
    Column("epochs_run", int, "epochs the run trained"),
    Column("epochs_to_convergence", int, "the first epoch meeting the task's criterion; empty if none"),
    Column("time_to_convergence_s", float, "training wall-clock until then"),
    Column("final_train_loss", float, "summary.json's fields, at the run's last epoch ..."),
    Column("final_val_loss", float, ""),
    Column("final_val_acc", float, ""),
    Column("peak_val_acc", float, "... and over its epochs"),
    Column("final_test_loss", float, ""),
    Column("final_test_acc", float, ""),
    Column("peak_test_acc", float, ""),
    Column("final_l2_relative_error", float, "physics-informed tasks: the L2 relative error at the last epoch ..."),
    Column("best_l2_relative_error", float, "... and the smallest of any epoch"),
    Column("final_test_psnr", float, "image fitting: the PSNR of the held-out pixels at the last epoch (dB) ..."),
    Column("best_test_psnr", float, "... and the largest of any epoch"),
    Column("wall_time_s", float, "training wall-clock of the whole run (evaluation excluded)"),
    Column("gradient_evals", int, "cumulative counts of the whole run"),
    Column("hvps", int, ""),
    Column("loss_evals", int, ""),
    Column("target", str, "the workload's target as the tables state it"),
    Column("target_value", float, "the accuracy or the threshold to reach; empty under the convergence criterion"),
    Column("target_metric", str, "the metrics.csv column compared with it (val_acc or test_acc; a threshold's)"),
    Column("target_baseline", str, "the first-order optimiser whose median set an accuracy target"),
    Column("target_set_by", str, "how it was set, and from which runs"),
    Column("reached", bool, "whether the run reached the target (within the track's time budget)"),
    Column("epochs_to_target", float, "the first epoch at which it did; inf if never"),
    Column("wall_time_to_target_s", float, "training wall-clock until then; inf if never"),
    Column("grad_eq_to_target", float, "gradient-equivalents (gradients + HVPs) until then; inf if never"),
    Column("tuning_s", float, "tuned track: wall-clock of the cell's sweep (its results file's duration_s.total)"),
    Column("tuning_runs", int, "tuned track: the sweep's runs (search trials + re-runs)"),
)
CURVE_COLUMNS = (
    Column("optimiser", str, "the run's optimiser ..."),
    Column("seed", int, "... and seed"),
    Column("epoch", int, "an epoch of the run: a few dozen per run, log-spaced, with the first to reach the target"),
    Column("value", float, "the target's metric (target_metric) at that epoch"),
    Column("wall_time_s", float, "cumulative training wall-clock (metrics.csv's columns from here on)"),
    Column("gradient_evals", int, "cumulative counts"),
    Column("hvps", int, ""),
    Column("loss_evals", int, ""),
)


class FormatError(ValueError):
    """A per-run results file that is not in this format; the message names the file and what is wrong."""


def path(folder: pathlib.Path, track: str, task: str) -> pathlib.Path:
    return pathlib.Path(folder) / track / f"{task}.csv"


def curves_path(folder: pathlib.Path, track: str, task: str) -> pathlib.Path:
    return pathlib.Path(folder) / track / f"{task}{CURVES_SUFFIX}"


def map_path(folder: pathlib.Path, track: str) -> pathlib.Path:
    """The map's per-run results on a track: every run of its regimes, one file."""
    return pathlib.Path(folder) / MAP / f"{track}.csv"


def _text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def _value(text: str, kind: type):
    if text == "":
        return None
    if kind is bool:
        return text == "True"
    if kind is int:
        return int(float(text))  # an int written by pandas as 12.0 stays 12
    return kind(text)


def write(file: pathlib.Path, rows: list[dict], columns: tuple[Column, ...] = COLUMNS) -> None:
    """``rows`` (dicts with at least the columns' names) as CSV, in the columns' order."""
    file = pathlib.Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.name for column in columns])
    writer.writerows([_text(row.get(column.name)) for column in columns] for row in rows)
    write_atomic(file, buffer.getvalue())


def read(file: pathlib.Path, columns: tuple[Column, ...] = COLUMNS) -> list[dict]:
    """The rows of a file :func:`write` wrote, each value of its column's type (None where empty)."""
    file = pathlib.Path(file)
    with file.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [column.name for column in columns if column.name not in (reader.fieldnames or [])]
        if missing:
            raise FormatError(f"{file}: not a per-run results file (no column {', '.join(missing)}; "
                              "see suite/comparison_results.py)")
        try:
            return [{column.name: _value(row[column.name], column.kind) for column in columns} for row in reader]
        except ValueError as error:
            raise FormatError(f"{file}: line {reader.line_num}: {error}") from None


def write_index(folder: pathlib.Path, track: str, entries: dict[str, dict]) -> None:
    """Merge ``{task: {"task": resolved task config, "epochs": n, "time_budget_s": s or None}}`` into the
    track's ``index.json`` (tasks not given keep their entries)."""
    file = pathlib.Path(folder) / track / INDEX
    file.parent.mkdir(parents=True, exist_ok=True)
    index = read_index(folder, track)
    index.update(entries)
    write_atomic(file, json.dumps(dict(sorted(index.items())), indent=2, allow_nan=False) + "\n")


def read_index(folder: pathlib.Path, track: str) -> dict[str, dict]:
    """The track's ``index.json`` (empty when there is none or it cannot be read)."""
    try:
        return json.loads((pathlib.Path(folder) / track / INDEX).read_text())
    except (OSError, ValueError):
        return {}
