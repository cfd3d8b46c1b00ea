"""The ablation of KryBall's options beyond the thesis: each option alone and KryBall+ against the
thesis KryBall and the tuned first-order optimisers — per epoch, per second and per
gradient-equivalent (docs/results.md, "Beyond the thesis").

Its settings are declared in ``ablation_settings`` (:data:`~ablation_settings.ABLATIONS`). Costs are
*measured* gradient-equivalents (``cost.measured``): HVPs and extra forward passes weighted by their
times on the task's model and first batch on this machine.
"""
from __future__ import annotations

import pathlib
from collections.abc import Callable

import numpy as np
import pandas as pd

from suite.optimisers.presentation import cycled, label
from suite.records import GRAD_EQ, GradientEquivalents, Records, SeedStats
from suite.reproduction import chapter5, cost, tables
from suite.reproduction.ablation_settings import KRYBALL_PLUS, THESIS_KRYBALL, Ablation
from suite.reproduction.columns import EPOCHS, config_column, epochs_column, mean_std, number, per_epoch, runs_column
from suite.reproduction.plots import axis_label, plt, save

THESIS_KRYBALL_LABEL = "KryBall (thesis)"  # beside its options, the thesis's algorithm is named as such
NOTES = [
    ("Options alone: the thesis KryBall with the task's tuned Krylov dimension and refresh rate plus that "
     "one option (`suite/reproduction/ablation_settings.py`, `ABLATION_OPTIONS`). Interleaved first-order steps "
     "use Adam at its default lr 1e-3: no option was tuned on its own."),
    ("Gradient-equivalents: gradients + HVPs × t_HVP/t_grad + extra forwards × t_fwd/t_grad, with the "
     "unit times measured on the task's model and first batch on this machine (weights in the header)."),
]


def cells(records: Records, ablation: Ablation) -> list[tuple[str, Records]]:
    """(row label, runs) for every cell of one task's ablation that has runs, in table order: the
    task's own optimisers, each option on the thesis KryBall, KryBall+ tuned and at its defaults."""
    base = ablation.base.name
    rows = [(THESIS_KRYBALL_LABEL if optim == THESIS_KRYBALL else label(optim), records.cell(base, optim))
            for optim in records.where(setting=base).distinct("optim") if optim != KRYBALL_PLUS]
    rows += [(f"KryBall + {option}", records.cell(ablation.options.name, THESIS_KRYBALL, option))
             for option in ablation.options.variants]
    rows += [(arm.label, records.cell(arm.setting.name, KRYBALL_PLUS)) for arm in ablation.kryball_plus]
    return [(text, cell) for text, cell in rows if not cell.empty]


def classification_table(records: Records, ablation: Ablation, weights: GradientEquivalents) -> pd.DataFrame:
    """MNIST-1D: final training loss and test accuracy, costs per epoch, and Adam at equal wall-clock."""
    rows = []
    for text, cell in cells(records, ablation):
        finished = cell.finished()
        rows.append({"optimiser": text, **{f"ours: {name}": mean_std(finished.stats(key))
                                          for key, name in tables.METRICS_5_2.items()},
                     "wall-clock per epoch (s)": mean_std(per_epoch(cell, cell.column("wall_time_s"))),
                     "gradient-equivalents per epoch": mean_std(per_epoch(cell, cell.gradient_equivalents(weights))),
                     "runs": runs_column(cell), "config": config_column(cell)})
    rows += equal_wall_clock_rows(records, ablation)
    return pd.DataFrame(rows)


def convergence_table(records: Records, ablation: Ablation, weights: GradientEquivalents) -> pd.DataFrame:
    """Table 5.1 problems and XOR: epochs, seconds and gradient-equivalents to convergence."""
    rows = []
    for text, cell in cells(records, ablation):
        converged = cell.converged()
        rows.append({"optimiser": text, EPOCHS: epochs_column(cell),
                     "wall-clock to convergence (s), median":
                         number(converged.stats("time_to_convergence_s").median, 3),
                     "gradient-equivalents to convergence, median":
                         number(SeedStats.of(converged.gradient_equivalents(weights)).median, 4),
                     "runs": runs_column(cell), "config": config_column(cell)})
    return pd.DataFrame(rows)


def equal_wall_clock_rows(records: Records, ablation: Ablation) -> list[dict]:
    """Tuned Adam, run long, read at the training wall-clock each seed of each KryBall+ used (same seed)."""
    if ablation.adam_long is None:
        return []
    long = records.where(setting=ablation.adam_long.name).finished()
    rows = []
    for arm in ablation.kryball_plus:
        found = []
        for run in records.cell(arm.setting.name, KRYBALL_PLUS).finished().rows():
            curves, budget = long.where(seed=run["seed"]).curves(), run["wall_time_s"]
            if not curves or curves[0]["wall_time_s"].iloc[-1] < budget:
                continue  # no long run, or it ended before KryBall+'s time: no equal-time reading
            within = curves[0][curves[0]["wall_time_s"] <= budget]
            if within.empty:
                continue
            last = within.iloc[-1]
            found.append(dict(seconds=budget, epochs=last["epoch"], final_train_loss=last["train_loss"],
                              final_test_acc=last["test_acc"], peak_test_acc=within["test_acc"].max()))
        if found:
            found = pd.DataFrame(found)
            rows.append({"optimiser": (f"Adam at the wall-clock of {arm.label} ({number(found['seconds'].mean(), 3)}"
                                       f" s ≈ {number(found['epochs'].mean(), 3)} epochs)"),
                         **{f"ours: {name}": mean_std(SeedStats.of(found[key]))
                            for key, name in tables.METRICS_5_2.items()},
                         "wall-clock per epoch (s)": "—", "gradient-equivalents per epoch": "—",
                         "runs": f"{len(found)} seeds, each read at its KryBall+ seed's time",
                         "config": config_column(long)})
    return rows


def mean_curve(frames: list[pd.DataFrame], x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """Seed-mean of y and of x at each epoch the seeds share (x: epoch, seconds or gradient-equivalents).
    An epoch where a seed's loss is not finite (a diverged run; the table counts it) is left out."""
    n = min(len(f) for f in frames)
    xs = np.mean([f[x].to_numpy(float)[:n] for f in frames], axis=0)
    ys = np.mean([f[y].to_numpy(float)[:n] for f in frames], axis=0)
    finite = np.isfinite(ys)
    return xs[finite], ys[finite]


def figure(records: Records, ablation: Ablation, weights: GradientEquivalents, path: pathlib.Path):
    """Seed-mean training loss (and test accuracy, where there is a test set) against epochs,
    wall-clock and gradient-equivalents, one line per ablation cell."""
    lines = [(text, frames) for text, cell in cells(records, ablation) if (frames := cell.curves(weights))]
    if not lines:
        return None
    ys = ["train_loss", *(["test_acc"] if lines[0][1][0]["test_acc"].notna().any() else [])]
    fig, axes = plt.subplots(len(ys), 3, figsize=(15, 4.2 * len(ys)), squeeze=False)
    for i, (text, frames) in enumerate(lines):
        colour, line_style = cycled(i)
        for row, y in enumerate(ys):
            for col, x in enumerate(("epoch", "wall_time_s", GRAD_EQ)):
                xs, values = mean_curve(frames, x, y)
                ax = axes[row][col]
                ax.plot(xs, values, lw=1.3, color=colour, ls=line_style, label=text if row == col == 0 else None)
                ax.set(xlabel=axis_label(x, weights), ylabel=axis_label(y), xscale="log" if x != "epoch" else "linear",
                       yscale="log" if y == "train_loss" else "linear")
                ax.grid(alpha=0.3)
    start = max(frames[0]["train_loss"].iloc[0] for _, frames in lines)
    for ax in axes[0]:  # as in plots.curves: a diverging run leaves the plot instead of squashing the rest
        ax.set_ylim(top=10 * start)
    fig.suptitle(f"Ablation on {ablation.base.label}: seed-mean curves")
    fig.legend(loc="upper center", ncol=5, fontsize=8, bbox_to_anchor=(0.5, 0.96))
    return save(fig, path, top=0.9 if len(ys) == 2 else 0.82)


def write(records: Records, ablations: tuple[Ablation, ...], out: pathlib.Path, suffix: str,
          header: Callable[[list[str]], list[str]]) -> list[pathlib.Path]:
    """One table (CSV + Markdown) and one figure per ablation that has runs; ``header(names)``
    gives the lines that say how the named settings ran."""
    written = []
    for ablation in ablations:
        runs = records.where(setting=[setting.name for setting in ablation.settings])
        if runs.empty:
            continue
        weights = cost.measured(ablation.base)
        build_table = classification_table if ablation.base in chapter5.TABLE_5_2 else convergence_table
        weights_note = (f"Measured unit costs on {ablation.base.label}: one HVP = {weights.hvp:.2f} gradients, "
                        f"one forward = {weights.forward:.2f} gradients.")
        ran = set(runs.distinct("setting"))
        written += tables.write([build_table(runs, ablation, weights)], runs, out,
                                f"ablation_{ablation.base.name}{suffix}",
                                f"Ablation of KryBall's options beyond the thesis on {ablation.base.label}",
                                [*header([s.name for s in ablation.settings if s.name in ran]), *NOTES, weights_note])
        if (png := figure(runs, ablation, weights, out / f"fig_ablation_{ablation.base.name}{suffix}.png")) is not None:
            written.append(png)
    return written
