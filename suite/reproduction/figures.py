"""The thesis figures from run records (PNG, matplotlib's Agg backend).

Each figure reads the ``metrics.csv`` of the runs ``runner.run_all`` recorded and draws what is
there; a cell without runs is left out of the legend, never invented. Loss curves get a second
panel against *gradient-equivalents* — gradient evaluations + Hessian-vector products, an HVP
counted as one gradient (Pearlmutter, 1994; 1.5× on the MNIST-1D MLP here, docs/performance.md) —
because one KryBall epoch costs several gradients and one ideal-LBFGS epoch up to 25.
"""
from __future__ import annotations

import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from suite.reproduction import landscape, reconstruction  # noqa: E402
from suite.reproduction.checkpointed import has_checkpoint  # noqa: E402
from suite.reproduction.protocol import SETTINGS, TABLE_5_1  # noqa: E402
from suite.record import FINAL  # noqa: E402

LABELS = {"msgd": "MSGD", "adam": "Adam", "lbfgs": "LBFGS", "lbfgs_single": "LBFGS (1 eval.)", "kryball": "KryBall"}
COLOURS = {"msgd": "tab:blue", "adam": "tab:orange", "lbfgs": "tab:green", "lbfgs_single": "tab:green",
           "kryball": "tab:red", "newton": "tab:purple", "sfn": "tab:brown"}
AXES = {"epoch": "epoch", "grad_eq": "gradient-equivalents (gradients + HVPs)",
        "wall_time_s": "training wall-clock (s)", "train_loss": "training loss", "test_acc": "test accuracy",
        "final_train_loss": "final training loss", "peak_test_acc": "peak test accuracy"}


def metrics(records: pd.DataFrame, setting: str, optim: str, variant: str | None = None) -> list[pd.DataFrame]:
    """The per-epoch rows of every run of one cell (and studied value) that left a metrics.csv, seed order."""
    cell = records[(records["setting"] == setting) & (records["optim"] == optim)]
    if variant is not None:
        cell = cell[cell["variant"] == variant]
    cell = cell.sort_values("seed")
    paths = [pathlib.Path(d) / "metrics.csv" for d in cell["run_dir"]]
    frames = [pd.read_csv(p) for p in paths if p.is_file()]
    return [f.assign(grad_eq=f["gradient_evals"] + f["hvps"]) for f in frames if not f.empty]


def start_point(records: pd.DataFrame, setting: str) -> list[float]:
    """Where a 2-D function task's runs start (``model.start`` in the runs' resolved config)."""
    run_dir = records.loc[records["setting"] == setting, "run_dir"].iloc[0]
    return json.loads((pathlib.Path(run_dir) / "summary.json").read_text())["config"]["model"]["start"]


def label(records: pd.DataFrame, setting: str, optim: str) -> str:
    """The optimiser's name, and how many of its runs diverged (their curves leave the plot)."""
    status = records.loc[(records["setting"] == setting) & (records["optim"] == optim), "status"]
    diverged = int((status == "diverged").sum())
    return LABELS[optim] + (f" ({diverged}/{len(status)} diverged)" if diverged else "")


def curves(ax, records, setting: str, x: str, y: str, logy: bool = True) -> None:
    """One line per seed (seed 0 solid), one colour per optimiser. On a log axis the top is kept
    near the starting values, so a diverging run leaves the plot instead of squashing the rest."""
    starts = []
    for optim in SETTINGS[setting].optims:
        for i, frame in enumerate(metrics(records, setting, optim)):
            ax.plot(frame[x], frame[y], color=COLOURS[optim], alpha=1.0 if i == 0 else 0.35, lw=1.2,
                    label=label(records, setting, optim) if i == 0 else None)
            starts.append(frame[y].iloc[0])
    if logy:
        ax.set_yscale("log")
        if starts and np.isfinite(np.nanmax(starts)):
            ax.set_ylim(top=np.nanmax(starts) * 10)
    ax.set(xlabel=AXES[x], ylabel=AXES[y])
    ax.grid(alpha=0.3)


def save(fig, path: pathlib.Path, top: float = 1.0) -> pathlib.Path:
    """Write the PNG; ``top`` < 1 keeps that fraction of the height for the axes (a figure legend above)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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


def fig_saddle(records: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Fig. 1.2 (KryBall vs Adam vs SGD — here MSGD — runs) with Fig. 2.12 / 4.2 (Newton vs
    saddle-free Newton, closed form) on x² − y² from (1.5, 1.5)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    xs, ys = np.meshgrid(np.linspace(-1, 2.5, 200), np.linspace(-1, 9, 200))
    left.contour(xs, ys, xs**2 - ys**2, levels=30, cmap="viridis", linewidths=0.6)
    paths = {"newton": ("Newton (closed form)", closed_form_saddle("newton")),
             "sfn": ("saddle-free Newton (closed form)", closed_form_saddle("sfn"))}
    for optim in SETTINGS["saddle"].optims:
        for frame in metrics(records, "saddle", optim)[:1]:
            start = np.array([start_point(records, "saddle")])
            points = np.vstack([start, frame[["x", "y"]].to_numpy()])
            # The end point in the label: Adam's path is too short to see at this scale.
            end = ", ".join(f"{v:.3g}" for v in points[-1])
            paths[optim] = (f"{LABELS[optim]} (run; ends at ({end}))", points)
    # Start and saddle under the paths, so a path that barely leaves the start stays visible.
    left.plot([1.5], [1.5], "o", color="red", ms=8, zorder=1)
    left.plot([0], [0], "o", color="blue", ms=8, zorder=1)
    for key, (label, points) in paths.items():
        left.plot(points[:, 0], points[:, 1], "o-", color=COLOURS[key], ms=4, label=label)
        right.plot(range(len(points)), points[:, 0] ** 2 - points[:, 1] ** 2, "o-", color=COLOURS[key], label=label)
    left.set(xlim=(-1, 2.5), ylim=(-1, 9), xlabel="x", ylabel="y",
             title="Fig. 1.2, 2.12, 4.2: x² − y² from (1.5, 1.5) (red); saddle (blue)")
    right.set_yscale("symlog")
    right.set(xlabel="step", ylabel="f(x, y)", title="objective per step (lower is better)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save(fig, path)


def rosenbrock_contour(ax) -> None:
    xs, ys = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
    f = (1 - xs) ** 2 + 100 * (ys - xs**2) ** 2
    ax.contour(xs, ys, np.log10(f + 1e-3), levels=25, cmap="viridis", linewidths=0.5)
    ax.plot([1], [1], "*", color="black", ms=10)


def fig_5_1(records: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Fig. 5.1: trajectories on the three Rosenbrock variants (seed 0, from the runs' x, y), and
    f − f* of the deterministic function against gradient-equivalents (every seed)."""
    names = [n for n in TABLE_5_1 if n.startswith("rosenbrock")]
    fig, axes = plt.subplots(2, len(names), figsize=(5 * len(names), 9))
    for (top, bottom), name in zip(axes.T, names):
        rosenbrock_contour(top)
        for optim in SETTINGS[name].optims:
            for frame in metrics(records, name, optim)[:1]:
                start = start_point(records, name)
                top.plot([start[0], *frame["x"]], [start[1], *frame["y"]], ".-", color=COLOURS[optim],
                         ms=3, lw=1, label=label(records, name, optim))
        top.set(xlim=(-2, 2), ylim=(-1, 3), xlabel="x", ylabel="y", title=SETTINGS[name].label)
        top.legend(fontsize=8)
        curves(bottom, records, name, "grad_eq", "train_loss")
        bottom.set_xscale("log")
        bottom.set_ylabel("f − f* (deterministic)")
    return save(fig, path)


def fig_loss_curves(records: pd.DataFrame, names: list[str], path: pathlib.Path, title: str) -> pathlib.Path:
    """Fig. 5.2 (Rahimi–Recht) and 5.3 (XOR): training loss per epoch and per gradient-equivalent."""
    fig, axes = plt.subplots(len(names), 2, figsize=(11, 4 * len(names)), squeeze=False)
    for (by_epoch, by_cost), name in zip(axes, names):
        curves(by_epoch, records, name, "epoch", "train_loss")
        curves(by_cost, records, name, "grad_eq", "train_loss")
        by_cost.set_xscale("log")
        by_epoch.set_title(f"{title}: {SETTINGS[name].label}")
        by_epoch.legend(fontsize=8)
    return save(fig, path)


def fig_5_4(records: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Fig. 5.4: training loss and test accuracy per epoch, and training loss against wall-clock,
    for each image-classification setting that has runs."""
    names = [n for n in ("mnist1d", "cifar10_cnn", "cifar10_resnet") if (records["setting"] == n).any()]
    fig, axes = plt.subplots(max(len(names), 1), 3, figsize=(15, 4 * max(len(names), 1)), squeeze=False)
    for (loss, acc, clock), name in zip(axes, names):
        curves(loss, records, name, "epoch", "train_loss")
        curves(acc, records, name, "epoch", "test_acc", logy=False)
        curves(clock, records, name, "wall_time_s", "train_loss")
        loss.set_title(SETTINGS[name].label)
        loss.legend(fontsize=8)
    return save(fig, path)


def fig_5_5(records: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Fig. 5.5 (§5.3.4): KryBall's final training loss and peak test accuracy on MNIST-1D against
    M and r_refresh, the others at their defaults; mean ± std over seeds, the best value in red."""
    names = [n for n in ("sensitivity_krylov_dim", "sensitivity_refresh") if (records["setting"] == n).any()]
    fig, axes = plt.subplots(len(names), 2, figsize=(11, 4 * len(names)), squeeze=False)
    for row, name in zip(axes, names):
        key, values = SETTINGS[name].vary
        runs = records[(records["setting"] == name) & records["status"].isin(FINAL)]
        for ax, column, best in zip(row, ("final_train_loss", "peak_test_acc"), ("idxmin", "idxmax")):
            stats = runs.groupby("variant")[column].agg(["mean", "std"]).reindex(list(values))
            ax.errorbar(range(len(values)), stats["mean"], yerr=stats["std"].fillna(0), fmt="o-",
                        color=COLOURS["kryball"], capsize=3)
            if stats["mean"].notna().any():
                top = values.index(getattr(stats["mean"], best)())
                ax.plot([top], [stats["mean"].iloc[top]], "o", color="red", ms=10, zorder=3)
            ax.set_xticks(range(len(values)), values)
            ax.set(xlabel=key, ylabel=AXES[column], title=SETTINGS[name].label)
            ax.grid(alpha=0.3)
    return save(fig, path)


def fig_5_7(records: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Fig. 5.7 (§5.4): KryBall on MNIST-1D with each activation — training loss and test accuracy."""
    fig, (loss, acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, activation in enumerate(SETTINGS["activations"].vary[1]):
        for j, frame in enumerate(metrics(records, "activations", "kryball", activation)):
            style = {"color": f"C{i}", "alpha": 1.0 if j == 0 else 0.35, "label": activation if j == 0 else None}
            loss.plot(frame["epoch"], frame["train_loss"], **style)
            acc.plot(frame["epoch"], frame["test_acc"], **style)
    loss.set_yscale("log")
    for ax, y in ((loss, "train_loss"), (acc, "test_acc")):
        ax.set(xlabel="epoch", ylabel=AXES[y], title=f"{SETTINGS['activations'].label}: {AXES[y]}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save(fig, path)


def fig_5_6(records: pd.DataFrame, path: pathlib.Path) -> pathlib.Path | None:
    """Fig. 5.6 (§5.4): the loss along the SGD direction at the start and the end of training, with
    the least-squares quadratic through each slice (dashed) to show where it stops being a bowl."""
    done = records[(records["setting"] == "landscape") & records["status"].isin(FINAL)].sort_values("seed")
    run_dirs = [pathlib.Path(d) for d in done["run_dir"] if has_checkpoint(d)]
    if not run_dirs:
        return None
    data = landscape.slices(run_dirs[0])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, when in zip(axes, ("start", "end")):
        quadratic = np.polyval(np.polyfit(data["lambda"], data[when], 2), data["lambda"])
        ax.plot(data["lambda"], data[when], "o-", ms=3, color=COLOURS["msgd"], label="loss")
        ax.plot(data["lambda"], quadratic, "--", color="grey", label="quadratic fit")
        ax.set(xlabel="λ (step along −g/‖g‖)", ylabel="training loss (one batch)",
               title=f"{SETTINGS['landscape'].label}: {when} of training")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save(fig, path)


def fig_reconstruction(errors: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """§5.4, eqs 5.5–5.12: the relative reconstruction error of the saddle-free direction against M,
    one panel per model — the best in 𝒦_M (solid, min–max over seeds shaded) and KryBall's
    (dashed), at the start and the end of training; medians over seeds. One y scale for all panels,
    so that a model whose error stays near 1 (no better than the zero vector) reads as such."""
    names = list(dict.fromkeys(errors["setting"]))
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4.2), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        for point, colour in zip(reconstruction.POINTS, ("tab:blue", "tab:red")):
            stats = errors[(errors["setting"] == name) & (errors["point"] == point)].groupby("krylov_dim")
            best, kryball = stats["best_error"], stats["kryball_error"]
            ax.plot(best.median().index, best.median(), "o-", color=colour, ms=4,
                    label=rf"{point}: best in $\mathcal{{K}}_M$")
            ax.fill_between(best.median().index, best.min(), best.max(), color=colour, alpha=0.15)
            ax.plot(kryball.median().index, kryball.median(), "s--", color=colour, ms=3, alpha=0.8,
                    label=f"{point}: KryBall's direction")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.set_xticks(list(reconstruction.DIMS))
        ax.set(xlabel="Krylov dimension M", ylabel="‖z* − ẑ‖ / ‖z*‖", title=SETTINGS[name].label)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return save(fig, path)


def draw_all(records: pd.DataFrame, out: pathlib.Path, suffix: str = "") -> list[pathlib.Path]:
    """Every figure whose runs are in ``records``; ``suffix`` tells quick-protocol files apart.
    (The reconstruction figure is drawn with its table, from the errors both share.)"""
    has = set(records["setting"])
    drawn = []
    if "saddle" in has:
        drawn.append(fig_saddle(records, out / f"fig_1_2_saddle{suffix}.png"))
    if has & {n for n in TABLE_5_1 if n.startswith("rosenbrock")}:
        drawn.append(fig_5_1(records, out / f"fig_5_1_rosenbrock{suffix}.png"))
    rahimi = [n for n in ("rahimi_recht_k10", "rahimi_recht_k1e5") if n in has]
    if rahimi:
        drawn.append(fig_loss_curves(records, rahimi, out / f"fig_5_2_rahimi_recht{suffix}.png", "Fig. 5.2"))
    if "xor" in has:
        drawn.append(fig_loss_curves(records, ["xor"], out / f"fig_5_3_xor{suffix}.png", "Fig. 5.3"))
    if has & {"mnist1d", "cifar10_cnn", "cifar10_resnet"}:
        drawn.append(fig_5_4(records, out / f"fig_5_4_classification{suffix}.png"))
    if has & {"sensitivity_krylov_dim", "sensitivity_refresh"}:
        drawn.append(fig_5_5(records, out / f"fig_5_5_sensitivity{suffix}.png"))
    if "activations" in has:
        drawn.append(fig_5_7(records, out / f"fig_5_7_activations{suffix}.png"))
    if "landscape" in has and (path := fig_5_6(records, out / f"fig_5_6_landscape{suffix}.png")):
        drawn.append(path)
    return drawn
