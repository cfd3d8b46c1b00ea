"""A run's record (docs/design.md, "The run record"): ``metrics.csv`` (one row per epoch) and ``summary.json``.

:class:`RunSummary` is the summary's one definition: :class:`RunRecord` writes it, :func:`read_summary`
reads it back, and everything that reads many runs (:mod:`suite.records`) goes through it. A run's
:class:`RunStatus` says how it ended.

``summary.json`` is rewritten atomically (temporary file + ``os.replace``) while the run goes
(``status: running``; after the first epoch, then at most every ``RUNNING_EVERY_S`` seconds — a
2000-epoch function task would otherwise spend most of its time rewriting it) and once more with
the final status, so an interrupted or killed run always leaves a readable record. Non-finite
numbers (a diverged loss) are ``nan``/``inf`` in the CSV and ``null`` in the JSON, which stays
strict JSON.
"""

import dataclasses
import enum
import functools
import json
import math
import os
import subprocess
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

# val_loss, val_acc: on the task's validation split (tasks/classification.py), empty without one.
# l2_relative_error: a physics-informed task's ‖u − u_exact‖₂ / ‖u_exact‖₂ on its test grid (tasks/pinn.py);
# test_psnr: an image-fitting task's PSNR on its held-out pixels, in dB (tasks/image_fit.py); empty elsewhere.
# (After the counts, so that the columns before them keep their places for readers that index them.)
COLUMNS = ["epoch", "train_loss", "test_loss", "test_acc", "val_loss", "val_acc", "wall_time_s", "gradient_evals",
           "hvps", "loss_evals", "l2_relative_error", "test_psnr"]
# Which way each metric of a row improves: what "best" means in the summary, and what reaching a value means
# (suite.records.rows_reaching: at most the value for "min", at least for "max").
GOALS = {"train_loss": "min", "test_loss": "min", "test_acc": "max", "val_loss": "min", "val_acc": "max",
         "l2_relative_error": "min", "test_psnr": "max"}
COSTS = ("gradient_evals", "hvps", "loss_evals")  # cumulative per-run counts, in every row and the summary
RUNNING_EVERY_S = 5.0
SUMMARY = "summary.json"
METRICS = "metrics.csv"


class RunStatus(str, enum.Enum):
    """How a run ended (or that it has not yet). A ``str``, so it is written and compared as its value."""

    RUNNING = "running"
    COMPLETED = "completed"  # the whole budget (epochs, or time_budget_s), no convergence criterion met (or none exists)
    CONVERGED = "converged"  # the task's convergence criterion was met
    DIVERGED = "diverged"  # a non-finite loss: the thesis's N/A
    FAILED = "failed"  # an error or an interruption
    PRUNED = "pruned"  # stopped early by a sweep's scheduler

    def __str__(self) -> str:
        return self.value

    def __hash__(self) -> int:  # as its value, so that "converged" in {RunStatus.CONVERGED} holds
        return str.__hash__(self)

    @property
    def is_final(self) -> bool:
        """A run that ended by itself: its outcome stands and can be reused, and a resumed run does not continue it."""
        return self in FINAL



FINAL = frozenset({RunStatus.COMPLETED, RunStatus.CONVERGED, RunStatus.DIVERGED})


@dataclasses.dataclass
class RunSummary:
    """``summary.json``: what a run was and how it ended. Counts are cumulative over the whole run."""

    task: str
    optim: str
    model: str
    seed: int
    status: RunStatus
    epochs_run: int = 0
    epochs_to_convergence: int | None = None
    time_to_convergence_s: float | None = None
    final_train_loss: float | None = None
    peak_test_acc: float | None = None
    final_test_acc: float | None = None
    final_test_loss: float | None = None
    final_val_loss: float | None = None  # the validation split's (None without one): what sweeps select on
    final_val_acc: float | None = None
    peak_val_acc: float | None = None
    final_l2_relative_error: float | None = None  # physics-informed tasks only (None elsewhere)
    best_l2_relative_error: float | None = None  # the smallest of any epoch
    final_test_psnr: float | None = None  # image fitting only, dB
    best_test_psnr: float | None = None  # the largest of any epoch
    wall_time_s: float = 0.0
    gradient_evals: int = 0
    hvps: int = 0
    loss_evals: int = 0
    device: str | None = None
    processes: int = 1  # data-parallel processes that shared each batch (docs/scaling.md)
    run_dir: str | None = None
    error: str | None = None
    config: dict = dataclasses.field(default_factory=dict)
    code_version: str | None = None

    def __post_init__(self):
        self.status = RunStatus(self.status)
        for field in dataclasses.fields(self):  # as on disk: a non-finite number (a diverged loss) is null
            setattr(self, field.name, _finite_or_none(getattr(self, field.name)))

    @classmethod
    def from_json(cls, data: dict) -> "RunSummary":
        """A summary as read from ``summary.json``; fields a record of an older version lacks get defaults."""
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        return data

    @property
    def outcomes(self) -> dict:
        """The numbers a table aggregates over seeds (everything but identity, provenance and config)."""
        return {name: getattr(self, name) for name in OUTCOMES}


OUTCOMES = ("epochs_run", "epochs_to_convergence", "time_to_convergence_s", "final_train_loss", "peak_test_acc",
            "final_test_acc", "final_test_loss", "final_val_loss", "final_val_acc", "peak_val_acc",
            "final_l2_relative_error", "best_l2_relative_error", "final_test_psnr", "best_test_psnr", "wall_time_s",
            *COSTS)


def read_summary(run_dir: Path) -> RunSummary | None:
    """The run's summary, or None when it has none (yet) or it cannot be read."""
    try:
        return RunSummary.from_json(json.loads((Path(run_dir) / SUMMARY).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _peak(rows: list[dict], column: str):
    """The best value of ``column`` over the rows that have one — the largest, or the smallest where the metric
    improves downwards (``GOALS``) — or None if none has. NaN (a diverged run's) is never best: it has no order."""
    values = [row[column] for row in rows if row.get(column) is not None and not math.isnan(row[column])]
    pick = min if GOALS[column] == "min" else max
    return pick(values, default=None)


def _finite_or_none(value):
    return value if not isinstance(value, float) or math.isfinite(value) else None


@functools.cache
def code_version() -> str:
    """The package version and, in a git checkout, the commit (``+dirty`` with local changes)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("kryball")
    except PackageNotFoundError:
        text = "unknown"
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).parent,
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{text}+{commit}" if commit else text


class RunRecord:
    """``metrics.csv`` and ``summary.json`` of one run directory."""

    def __init__(self, run_dir: Path, cfg: DictConfig, rows: list[dict] | None = None, write: bool = True):
        """``write=False``: keep the rows and build the summary, write nothing (the other processes of a
        data-parallel run, whose process 0 writes; docs/scaling.md)."""
        self.run_dir, self.cfg, self.write = run_dir, cfg, write
        self.config = OmegaConf.to_container(cfg, resolve=True)
        self.rows = list(rows or [])
        self.last_written = -float("inf")
        self.metrics_path = run_dir / METRICS
        self.summary_path = run_dir / SUMMARY
        if write and self.rows:  # resumed: the file is exactly the checkpoint's history
            write_atomic(self.metrics_path, "".join(self._lines(self.rows, header=True)))
        elif write and self.metrics_path.exists():
            self.metrics_path.unlink()

    def _columns(self) -> list[str]:
        """The contract's columns, then the task's extras (e.g. the x, y of a 2-D function)."""
        return COLUMNS + [key for key in self.rows[0] if key not in COLUMNS]

    def _lines(self, rows: list[dict], header: bool):
        columns = self._columns()
        if header:
            yield ",".join(columns) + "\n"
        for row in rows:
            yield ",".join("" if row.get(c) is None else repr(row[c]) for c in columns) + "\n"

    def append(self, row: dict) -> None:
        self.rows.append(row)
        if not self.write:
            return
        with self.metrics_path.open("a", newline="") as f:
            f.writelines(self._lines([row], header=len(self.rows) == 1))

    def running(self, convergence: dict, extra: dict) -> None:
        """Refresh summary.json of a run in progress, unless it was written moments ago."""
        if time.monotonic() - self.last_written >= RUNNING_EVERY_S:
            self.summary(RunStatus.RUNNING, convergence, extra)

    def summary(self, status: RunStatus, convergence: dict, extra: dict | None = None) -> RunSummary:
        """The summary for the rows so far, written to summary.json and returned."""
        last = self.rows[-1] if self.rows else {}
        summary = RunSummary(
            task=self.cfg.task.name, optim=self.cfg.optim.name, model=self.cfg.model.name, seed=self.cfg.seed,
            status=status,
            epochs_run=last.get("epoch", 0),
            epochs_to_convergence=convergence.get("epoch"),
            time_to_convergence_s=convergence.get("wall_time_s"),
            final_train_loss=last.get("train_loss"),
            peak_test_acc=_peak(self.rows, "test_acc"),
            final_test_acc=last.get("test_acc"),
            final_test_loss=last.get("test_loss"),
            final_val_loss=last.get("val_loss"),
            final_val_acc=last.get("val_acc"),
            peak_val_acc=_peak(self.rows, "val_acc"),
            final_l2_relative_error=last.get("l2_relative_error"),
            best_l2_relative_error=_peak(self.rows, "l2_relative_error"),
            final_test_psnr=last.get("test_psnr"),
            best_test_psnr=_peak(self.rows, "test_psnr"),
            wall_time_s=last.get("wall_time_s", 0.0),
            **{key: last.get(key, 0) for key in COSTS},
            **(extra or {}),
            config=self.config,
            code_version=code_version(),
        )
        if self.write:
            write_atomic(self.summary_path, json.dumps(summary.to_json(), indent=2, allow_nan=False) + "\n")
        self.last_written = time.monotonic()
        return summary
