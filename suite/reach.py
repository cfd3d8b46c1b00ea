"""How long runs take to reach a value of a metric that the caller names (``collect_runs.py --reach``).

    python scripts/collect_runs.py outputs/multirun/a outputs/multirun/b --by optim --reach val_acc=0.695 \
        --plot reach.png

The comparison protocol sets each workload's target itself (``suite/reproduction/targets.py``); this
asks the same question of any runs: per group, how many reached the value and when they first did —
the epoch, the training wall-clock (``wall_time_s``, evaluation excluded) and the gradient-equivalents
(nominal: gradients + HVPs) — as the targets' low median over all runs, ∞ counted, with [min–max]
over those that reached it. ``--plot`` draws the metric against wall-clock and gradient-equivalents,
one line per run, one colour per group, the value as a dashed line.
"""

from __future__ import annotations

import math
import pathlib

import pandas as pd

from suite.records import GRAD_EQ, NOMINAL, Records, rows_reaching
from suite.reproduction.targets import MEASURES, censored_median
from suite.run_record import GOALS

CURVES = tuple(GOALS)  # the metrics.csv columns a value can be set on


def parse(text: str) -> tuple[str, float]:
    """``"val_acc=0.695"`` → ``("val_acc", 0.695)``; a ``ValueError`` in one line for anything else."""
    metric, _, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if metric not in CURVES or not math.isfinite(number):
        raise ValueError(f"--reach wants METRIC=VALUE with METRIC one of {', '.join(CURVES)}, got {text!r}")
    return metric, number


def first_reached(curve: pd.DataFrame, metric: str, value: float) -> pd.Series | None:
    """The first metrics row at which the metric has reached ``value`` (:func:`suite.records.rows_reaching`), or
    None."""
    hits = rows_reaching(curve, metric, value)
    return hits.iloc[0] if not hits.empty else None


def reach_table(runs: Records, by: list[str], metric: str, value: float) -> pd.DataFrame:
    """Per group of finished runs: how many reached ``metric`` = ``value`` and when (module docstring)."""
    rows = []
    for values, group in runs.finished().groups(*by):
        times = {measure: [] for measure in MEASURES}
        for _, curve in group.each_run(NOMINAL):
            hit = first_reached(curve, metric, value) if curve is not None else None
            for measure in MEASURES:
                times[measure].append(float(hit[measure]) if hit is not None else math.inf)
        reached = sum(math.isfinite(t) for t in times["epoch"])
        rows.append({**dict(zip(by, values)), "reached": f"{reached}/{len(group)}",
                     **{f"{name}, median [min–max]": censored_median(pd.Series(times[measure]))
                        for measure, name in MEASURES.items()}})
    return pd.DataFrame(rows)


def group_name(by: list[str], values: tuple) -> str:
    """``optim=kryball_plus, optim.refresh=3``: the keys a group has (a missing one left out), integers as such."""
    def text(value):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)

    return ", ".join(f"{key}={text(value)}" for key, value in zip(by, values) if not pd.isna(value))


def plot_reach(runs: Records, by: list[str], metric: str, value: float, path: pathlib.Path) -> pathlib.Path:
    """The metric against wall-clock and gradient-equivalents, every finished run (module docstring)."""
    from suite.reproduction.plots import plt, save  # matplotlib only where a figure is asked for

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for colour, (values, group) in enumerate(runs.finished().groups(*by)):
        name = group_name(by, values)
        for i, (_, curve) in enumerate(group.each_run(NOMINAL)):
            for ax, x in zip(axes, ("wall_time_s", GRAD_EQ)):
                if curve is not None and metric in curve:
                    ax.plot(curve[x], curve[metric], color=f"C{colour}", lw=1.0, alpha=0.6,
                            label=f"{name} ({len(group)} runs)" if i == 0 and x == "wall_time_s" else None)
    for ax, x in zip(axes, ("wall_time_s", GRAD_EQ)):
        ax.axhline(value, color="black", ls="--", lw=0.8)
        ax.set(xlabel=MEASURES[x], xscale="log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(metric)
    fig.legend(loc="upper center", ncol=2, fontsize=8, frameon=False)
    return save(fig, path, top=0.82)
