"""A run's record (DESIGN.md §5): ``metrics.csv`` (one row per epoch) and ``summary.json``.

``summary.json`` is rewritten atomically (temporary file + ``os.replace``) while the run goes
(``status: running``; after the first epoch, then at most every ``RUNNING_EVERY_S`` seconds — a
2000-epoch function task would otherwise spend most of its time rewriting it) and once more with
the final status, so an interrupted or killed run always leaves a readable record. Non-finite
numbers (a diverged loss) are ``nan``/``inf`` in the CSV and ``null`` in the JSON, which stays
strict JSON.
"""

import functools
import json
import math
import os
import subprocess
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

COLUMNS = ["epoch", "train_loss", "test_loss", "test_acc", "wall_time_s", "gradient_evals", "hvps", "loss_evals"]
RUNNING_EVERY_S = 5.0


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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

    def __init__(self, run_dir: Path, cfg: DictConfig, rows: list[dict] | None = None):
        self.run_dir, self.cfg = run_dir, cfg
        self.config = OmegaConf.to_container(cfg, resolve=True)
        self.rows = list(rows or [])
        self.last_written = -float("inf")
        self.metrics_path = run_dir / "metrics.csv"
        self.summary_path = run_dir / "summary.json"
        if self.rows:  # resumed: the file is exactly the checkpoint's history
            write_atomic(self.metrics_path, "".join(self._lines(self.rows, header=True)))
        elif self.metrics_path.exists():
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
        with self.metrics_path.open("a", newline="") as f:
            f.writelines(self._lines([row], header=len(self.rows) == 1))

    def running(self, convergence: dict, extra: dict) -> None:
        """Refresh summary.json of a run in progress, unless it was written moments ago."""
        if time.monotonic() - self.last_written >= RUNNING_EVERY_S:
            self.summary("running", convergence, extra)

    def summary(self, status: str, convergence: dict, extra: dict | None = None) -> dict:
        """The summary for the rows so far, written to summary.json and returned."""
        last = self.rows[-1] if self.rows else {}
        accuracies = [r["test_acc"] for r in self.rows if r.get("test_acc") is not None]
        summary = {
            "task": self.cfg.task.name,
            "optim": self.cfg.optim.name,
            "model": self.cfg.model.name,
            "seed": self.cfg.seed,
            "status": status,
            "epochs_run": last.get("epoch", 0),
            "epochs_to_convergence": convergence.get("epoch"),
            "time_to_convergence_s": convergence.get("wall_time_s"),
            "final_train_loss": last.get("train_loss"),
            "peak_test_acc": max(accuracies, default=None),
            "final_test_acc": last.get("test_acc"),
            "wall_time_s": last.get("wall_time_s", 0.0),
            **{key: last.get(key, 0) for key in ("gradient_evals", "hvps", "loss_evals")},
            **(extra or {}),
            "config": self.config,
            "code_version": code_version(),
        }
        summary = {key: _finite_or_none(value) for key, value in summary.items()}
        write_atomic(self.summary_path, json.dumps(summary, indent=2, allow_nan=False) + "\n")
        self.last_written = time.monotonic()
        return summary
