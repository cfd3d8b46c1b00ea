"""One trial = one ordinary training run (``suite.training.run``, as ``train.py`` runs it), reported
to the sweep epoch by epoch.

Thesis §5.2.5 tunes with Hyperband, which needs a value after every epoch; the spec's
``metric.name`` says which:

* ``val_acc``, ``val_loss``, ``test_acc``, ``test_loss``, ``train_loss``, ``l2_relative_error``,
  ``test_psnr`` — metrics.csv columns, reported every epoch; the trial's value is the run's final one
  (summary.json ``final_val_acc`` and so on). Classification sweeps select on ``val_acc``, the
  validation split's (docs/sweeps.md); ``--protocol thesis`` on ``test_acc``, as the thesis, which had
  no validation split, could only. The physics-informed tasks select on ``l2_relative_error`` and image
  fitting on ``test_psnr`` (suite/run_record.py says which way each improves; the spec's goal must agree).
* ``epochs_to_convergence`` — the task's own convergence test (Table 5.1, Fig. 5.3). It exists
  only at the end, so Hyperband ranks runs by ``train_loss`` meanwhile. A run that never
  converges within the budget scores ``epochs + 1 + q``, after every run that does, where
  ``q`` in (0, 1) grows with its final training loss on a log scale: without it, every such run
  would tie and a sweep whose runs rarely converge in 100 epochs (MSGD and Adam on Rosenbrock
  need 248-1978) would learn nothing. A diverged run scores ``epochs + 2``.

For the other metrics a diverged run (non-finite loss) scores the worst value rather than
failing, so the sampler learns to avoid that region instead of ignoring it.
"""
from __future__ import annotations

import math
import pathlib
from collections.abc import Callable

from suite.config import compose_config
from suite.training import run

FINAL = {"train_loss": "final_train_loss", "test_acc": "final_test_acc", "test_loss": "final_test_loss",
         "val_acc": "final_val_acc", "val_loss": "final_val_loss", "l2_relative_error": "final_l2_relative_error",
         "test_psnr": "final_test_psnr"}  # column -> summary field
VALIDATION = ("val_acc", "val_loss")  # metrics of the validation split, which a task may not have
AT_END = {"epochs_to_convergence": "train_loss"}  # metric -> column Hyperband ranks meanwhile
METRICS = (*FINAL, *AT_END)

Report = Callable[[int, float], bool]  # (epoch, value) -> stop now?


def worst(goal: str) -> float:
    return math.inf if goal == "minimize" else -math.inf


def finite_or_worst(value, goal: str) -> float:
    value = math.nan if value is None else float(value)
    return value if math.isfinite(value) else worst(goal)


def trial_value(metric: str, goal: str, summary: dict, epochs: int) -> float:
    """The number a finished run scores (see the module docstring)."""
    if metric in AT_END:
        if summary.get(metric) is not None:
            return float(summary[metric])
        loss = finite_or_worst(summary.get("final_train_loss"), "minimize")
        if summary.get("status") == "diverged" or math.isinf(loss):
            return float(epochs + 2)
        # atan maps log10(loss) in (-inf, inf) monotonically into (0, 1).
        return epochs + 1 + (0.5 + math.atan(math.log10(loss)) / math.pi if loss > 0 else 0.0)
    if summary.get("status") == "diverged":
        return worst(goal)
    return finite_or_worst(summary.get(FINAL[metric]), goal)


class TrainRun:
    """``evaluate(overrides, run_dir, report) -> value`` through ``suite.training.run`` (picklable, so
    worker processes can rebuild it)."""

    def __init__(self, metric: str, goal: str):
        self.metric, self.goal = metric, goal

    def __call__(self, overrides: list[str], run_dir: pathlib.Path, report: Report) -> float:
        # The same code path as train.py, so a trial is exactly the run its overrides describe.
        cfg = compose_config(overrides)
        column = AT_END.get(self.metric, self.metric)

        def on_epoch(epoch: int, row: dict) -> bool:
            return report(epoch, finite_or_worst(row.get(column), self.goal))

        summary = run(cfg, pathlib.Path(run_dir), on_epoch=on_epoch).to_json()
        return trial_value(self.metric, self.goal, summary, int(cfg.epochs))
