"""What the reproduction's figures share: matplotlib's Agg backend, axis labels, one setting's
curves (one colour and line style per optimiser, from ``suite.optimisers.presentation``), and writing the PNG.

A figure draws what the records hold: the optimisers of a setting are those with runs, in the
order they were planned (the thesis's rows first), so an optimiser added by a sweep spec joins
every figure of its setting without a code edit. A cell without runs is left out of the legend,
never invented.
"""
from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from suite.optimisers.presentation import label, look  # noqa: E402
from suite.records import GRAD_EQ, NOMINAL, GradientEquivalents, Records  # noqa: E402
from suite.reproduction.checkpointed import run_config  # noqa: E402
from suite.reproduction.setting import Setting  # noqa: E402
from suite.run_record import RunStatus  # noqa: E402

__all__ = ["plt", "axis_label", "curves", "optimisers", "save", "start_point"]

AXES = {"epoch": "epoch", "wall_time_s": "training wall-clock (s)", "train_loss": "training loss",
        "test_acc": "test accuracy", "final_train_loss": "final training loss", "peak_test_acc": "peak test accuracy"}


def axis_label(column: str, cost: GradientEquivalents = NOMINAL) -> str:
    """How a metrics column is named on an axis; gradient-equivalents say how they were counted."""
    return cost.axis_label if column == GRAD_EQ else AXES[column]


def optimisers(records: Records, setting: Setting) -> list[str]:
    """The setting's optimisers that have runs, in plan order."""
    return records.where(setting=setting.name).distinct("optim")


def legend_label(cell: Records, optim: str) -> str:
    """The optimiser's label, and how many of its runs diverged (their curves leave the plot)."""
    diverged = len(cell.where(status=RunStatus.DIVERGED.value))
    return label(optim) + (f" ({diverged}/{len(cell)} diverged)" if diverged else "")


def curves(ax, records: Records, setting: Setting, x: str, y: str, logy: bool = True) -> None:
    """One line per seed (seed 0 opaque), one colour and line style per optimiser. On a log axis the
    top is kept near the starting values, so a diverging run leaves the plot instead of squashing the rest."""
    starts = []
    for optim in optimisers(records, setting):
        cell, style = records.cell(setting.name, optim), look(optim)
        for i, frame in enumerate(cell.curves()):
            ax.plot(frame[x], frame[y], color=style.colour, ls=style.line_style, alpha=1.0 if i == 0 else 0.35,
                    lw=1.2, label=legend_label(cell, optim) if i == 0 else None)
            starts.append(frame[y].iloc[0])
    if logy:
        ax.set_yscale("log")
        if starts and np.isfinite(np.nanmax(starts)):
            ax.set_ylim(top=np.nanmax(starts) * 10)
    ax.set(xlabel=axis_label(x), ylabel=axis_label(y))
    ax.grid(alpha=0.3)


def start_point(records: Records, setting: Setting) -> list[float]:
    """Where a 2-D function task's runs start (``model.start`` in the runs' resolved config)."""
    return list(run_config(records.where(setting=setting.name).distinct("run_dir")[0]).model.start)


def save(fig, path: pathlib.Path, top: float = 1.0) -> pathlib.Path:
    """Write the PNG; ``top`` < 1 keeps that fraction of the height for the axes (a figure legend above)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
