"""The thesis figures from run records (PNG, matplotlib's Agg backend), each declared with the
settings it draws (:data:`FIGURES`).

Loss curves get a panel against *gradient-equivalents* as well as epochs — the nominal count
``suite.records.NOMINAL``, gradient evaluations + Hessian-vector products, an HVP counted as one
gradient (Pearlmutter, 1994; 1.5× on the MNIST-1D MLP here, docs/performance.md) — because one
KryBall epoch costs several gradients and one ideal-LBFGS epoch up to 25.
"""
from __future__ import annotations

import dataclasses
import functools
import pathlib
from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from suite.optimisers.presentation import cycled, label, look
from suite.records import GRAD_EQ, Records
from suite.reproduction import chapter5, landscape, reconstruction
from suite.reproduction.checkpointed import has_checkpoint
from suite.reproduction.plots import axis_label, curves, legend_label, optimisers, plt, save, start_point
from suite.reproduction.setting import Setting


def closed_form_saddle(method: str, start=(1.5, 1.5), steps: int = 4) -> np.ndarray:
    """Newton (Fig. 2.12) or saddle-free Newton (Fig. 4.2) iterates on f = x² − y².

    Newton steps by −H⁻¹g and lands on the saddle; SFN by −|H|⁻¹g (§4.1: |H| flips the negative
    curvature), which keeps the x step and reverses the y step, so it escapes.
    """
    hessian = np.diag([2.0, -2.0])
    eigvals, eigvecs = np.linalg.eigh(hessian)
    scale = 1 / eigvals if method == "newton" else 1 / np.abs(eigvals)
    points = [np.asarray(start, dtype=float)]
    for _ in range(steps):
        g = np.array([2 * points[-1][0], -2 * points[-1][1]])
        points.append(points[-1] - eigvecs @ (scale * (eigvecs.T @ g)))
    return np.array(points)


def fig_saddle(records: Records, settings: list[Setting]):
    """Fig. 1.2 (KryBall vs Adam vs SGD — here MSGD — runs) with Fig. 2.12 / 4.2 (Newton vs
    saddle-free Newton, closed form) on x² − y² from (1.5, 1.5)."""
    (setting,) = settings
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    xs, ys = np.meshgrid(np.linspace(-1, 2.5, 200), np.linspace(-1, 9, 200))
    left.contour(xs, ys, xs**2 - ys**2, levels=30, cmap="viridis", linewidths=0.6)
    paths = {method: (f"{label(method)} (closed form)", closed_form_saddle(method)) for method in ("newton", "sfn")}
    start = np.array([start_point(records, setting)])
    for optim in optimisers(records, setting):
        for frame in records.cell(setting.name, optim).curves()[:1]:
            points = np.vstack([start, frame[["x", "y"]].to_numpy()])
            # The end point in the label: Adam's path is too short to see at this scale.
            end = ", ".join(f"{v:.3g}" for v in points[-1])
            paths[optim] = (f"{label(optim)} (run; ends at ({end}))", points)
    # Start and saddle under the paths, so a path that barely leaves the start stays visible.
    left.plot([1.5], [1.5], "o", color="red", ms=8, zorder=1)
    left.plot([0], [0], "o", color="blue", ms=8, zorder=1)
    for key, (text, points) in paths.items():
        style = dict(marker="o", color=look(key).colour, ls=look(key).line_style, label=text)
        left.plot(points[:, 0], points[:, 1], ms=4, **style)
        right.plot(range(len(points)), points[:, 0] ** 2 - points[:, 1] ** 2, **style)
    left.set(xlim=(-1, 2.5), ylim=(-1, 9), xlabel="x", ylabel="y",
             title="Fig. 1.2, 2.12, 4.2: x² − y² from (1.5, 1.5) (red); saddle (blue)")
    right.set_yscale("symlog")
    right.set(xlabel="step", ylabel="f(x, y)", title="objective per step (lower is better)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def rosenbrock_contour(ax) -> None:
    xs, ys = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
    f = (1 - xs) ** 2 + 100 * (ys - xs**2) ** 2
    ax.contour(xs, ys, np.log10(f + 1e-3), levels=25, cmap="viridis", linewidths=0.5)
    ax.plot([1], [1], "*", color="black", ms=10)


def fig_5_1(records: Records, settings: list[Setting]):
    """Fig. 5.1: trajectories on the Rosenbrock variants (seed 0, from the runs' x, y), and f − f*
    of the deterministic function against gradient-equivalents (every seed)."""
    fig, axes = plt.subplots(2, len(settings), figsize=(5 * len(settings), 9), squeeze=False)
    for (top, bottom), setting in zip(axes.T, settings):
        rosenbrock_contour(top)
        start = start_point(records, setting)
        for optim in optimisers(records, setting):
            cell = records.cell(setting.name, optim)
            for frame in cell.curves()[:1]:
                top.plot([start[0], *frame["x"]], [start[1], *frame["y"]], marker=".", color=look(optim).colour,
                         ls=look(optim).line_style, ms=3, lw=1, label=legend_label(cell, optim))
        top.set(xlim=(-2, 2), ylim=(-1, 3), xlabel="x", ylabel="y", title=setting.label)
        top.legend(fontsize=8)
        curves(bottom, records, setting, GRAD_EQ, "train_loss")
        bottom.set_xscale("log")
        bottom.set_ylabel("f − f* (deterministic)")
    return fig


def fig_loss_curves(records: Records, settings: list[Setting], title: str):
    """Fig. 5.2 (Rahimi–Recht) and 5.3 (XOR): training loss per epoch and per gradient-equivalent."""
    fig, axes = plt.subplots(len(settings), 2, figsize=(11, 4 * len(settings)), squeeze=False)
    for (by_epoch, by_cost), setting in zip(axes, settings):
        curves(by_epoch, records, setting, "epoch", "train_loss")
        curves(by_cost, records, setting, GRAD_EQ, "train_loss")
        by_cost.set_xscale("log")
        by_epoch.set_title(f"{title}: {setting.label}")
        by_epoch.legend(fontsize=8)
    return fig


def fig_5_4(records: Records, settings: list[Setting]):
    """Fig. 5.4: training loss and test accuracy per epoch, and training loss against wall-clock,
    for each image-classification setting that has runs."""
    fig, axes = plt.subplots(len(settings), 3, figsize=(15, 4 * len(settings)), squeeze=False)
    for (loss, acc, clock), setting in zip(axes, settings):
        curves(loss, records, setting, "epoch", "train_loss")
        curves(acc, records, setting, "epoch", "test_acc", logy=False)
        curves(clock, records, setting, "wall_time_s", "train_loss")
        loss.set_title(setting.label)
        loss.legend(fontsize=8)
    return fig


def fig_5_5(records: Records, settings: list[Setting]):
    """Fig. 5.5 (§5.3.4): KryBall's final training loss and peak test accuracy on MNIST-1D against
    M and r_refresh, the others at their defaults; mean ± std over seeds, the best value in red."""
    fig, axes = plt.subplots(len(settings), 2, figsize=(11, 4 * len(settings)), squeeze=False)
    for row, setting in zip(axes, settings):
        key, values = setting.vary
        runs = records.where(setting=setting.name).finished()
        for ax, column, best in zip(row, ("final_train_loss", "peak_test_acc"), (np.nanargmin, np.nanargmax)):
            stats = [runs.where(variant=value).stats(column) for value in values]
            means = np.array([s.mean for s in stats])
            ax.errorbar(range(len(values)), means, yerr=np.nan_to_num([s.std for s in stats]), fmt="o-",
                        color=look(setting.studied_optim).colour, capsize=3)
            if np.isfinite(means).any():
                top = int(best(means))
                ax.plot([top], [means[top]], "o", color="red", ms=10, zorder=3)
            ax.set_xticks(range(len(values)), values)
            ax.set(xlabel=key, ylabel=axis_label(column), title=setting.label)
            ax.grid(alpha=0.3)
    return fig


def fig_5_7(records: Records, settings: list[Setting]):
    """Fig. 5.7 (§5.4): KryBall on MNIST-1D with each activation — training loss and test accuracy."""
    (setting,) = settings
    fig, (loss, acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, activation in enumerate(setting.variants):
        colour, line_style = cycled(i)
        for j, frame in enumerate(records.cell(setting.name, setting.studied_optim, activation).curves()):
            style = {"color": colour, "ls": line_style, "alpha": 1.0 if j == 0 else 0.35,
                     "label": activation if j == 0 else None}
            loss.plot(frame["epoch"], frame["train_loss"], **style)
            acc.plot(frame["epoch"], frame["test_acc"], **style)
    loss.set_yscale("log")
    for ax, y in ((loss, "train_loss"), (acc, "test_acc")):
        ax.set(xlabel=axis_label("epoch"), ylabel=axis_label(y), title=f"{setting.label}: {axis_label(y)}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def fig_5_6(records: Records, settings: list[Setting]):
    """Fig. 5.6 (§5.4): the loss along the SGD direction at the start and the end of training, with
    the least-squares quadratic through each slice (dashed) to show where it stops being a bowl."""
    (setting,) = settings
    done = records.where(setting=setting.name).finished().sorted("seed")
    run_dirs = [pathlib.Path(d) for d in done.distinct("run_dir") if has_checkpoint(d)]
    if not run_dirs:
        return None
    data = landscape.slices(run_dirs[0])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, when in zip(axes, ("start", "end")):
        quadratic = np.polyval(np.polyfit(data["lambda"], data[when], 2), data["lambda"])
        ax.plot(data["lambda"], data[when], "o-", ms=3, color=look(setting.studied_optim).colour, label="loss")
        ax.plot(data["lambda"], quadratic, "--", color="grey", label="quadratic fit")
        ax.set(xlabel="λ (step along −g/‖g‖)", ylabel="training loss (one batch)",
               title=f"{setting.label}: {when} of training")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def fig_reconstruction(errors: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """§5.4, eqs 5.5–5.12: the relative reconstruction error of the saddle-free direction against M,
    one panel per model — the best in 𝒦_M (solid, min–max over seeds shaded) and KryBall's
    (dashed), at the start and the end of training; medians over seeds. One y scale for all panels,
    so that a model whose error stays near 1 (no better than the zero vector) reads as such."""
    settings = [setting for setting in chapter5.RECONSTRUCTION if (errors["setting"] == setting.name).any()]
    fig, axes = plt.subplots(1, len(settings), figsize=(5.5 * len(settings), 4.2), squeeze=False, sharey=True)
    for ax, setting in zip(axes[0], settings):
        for point, colour in zip(reconstruction.POINTS, ("tab:blue", "tab:red")):
            stats = errors[(errors["setting"] == setting.name) & (errors["point"] == point)].groupby("krylov_dim")
            best, kryball = stats["best_error"], stats["kryball_error"]
            ax.plot(best.median().index, best.median(), "o-", color=colour, ms=4,
                    label=rf"{point}: best in $\mathcal{{K}}_M$")
            ax.fill_between(best.median().index, best.min(), best.max(), color=colour, alpha=0.15)
            ax.plot(kryball.median().index, kryball.median(), "s--", color=colour, ms=3, alpha=0.8,
                    label=f"{point}: KryBall's direction")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.set_xticks(list(reconstruction.DIMS))
        ax.set(xlabel="Krylov dimension M", ylabel="‖z* − ẑ‖ / ‖z*‖", title=setting.label)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return save(fig, path)


@dataclasses.dataclass(frozen=True)
class Figure:
    stem: str  # the file name, before the protocol's suffix
    settings: tuple[Setting, ...]  # what it draws; those with runs are passed to ``draw``
    draw: Callable  # (records, settings) -> a matplotlib figure, or None when there is nothing to draw


FIGURES = (
    Figure("fig_1_2_saddle", (chapter5.SADDLE,), fig_saddle),
    Figure("fig_5_1_rosenbrock", chapter5.ROSENBROCK, fig_5_1),
    Figure("fig_5_2_rahimi_recht", chapter5.RAHIMI_RECHT, functools.partial(fig_loss_curves, title="Fig. 5.2")),
    Figure("fig_5_3_xor", (chapter5.XOR,), functools.partial(fig_loss_curves, title="Fig. 5.3")),
    Figure("fig_5_4_classification", chapter5.TABLE_5_2, fig_5_4),
    Figure("fig_5_5_sensitivity", (chapter5.SENSITIVITY_KRYLOV_DIM, chapter5.SENSITIVITY_REFRESH), fig_5_5),
    Figure("fig_5_7_activations", (chapter5.ACTIVATIONS,), fig_5_7),
    Figure("fig_5_6_landscape", (chapter5.LANDSCAPE,), fig_5_6),
)


def draw_all(records: Records, out: pathlib.Path, suffix: str = "") -> list[pathlib.Path]:
    """Every figure with runs of its settings in ``records``; ``suffix`` tells quick-protocol files
    apart. (The reconstruction figure is drawn with its table, from the errors both share.)"""
    drawn = []
    for figure in FIGURES:
        settings = [setting for setting in figure.settings if not records.where(setting=setting.name).empty]
        if settings and (fig := figure.draw(records, settings)) is not None:
            drawn.append(save(fig, out / f"{figure.stem}{suffix}.png"))
    return drawn
