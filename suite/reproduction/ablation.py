"""Issue 7's ablation: KryBall's options beyond the thesis, one at a time and combined, against the
thesis KryBall and the tuned first-order optimisers — per epoch, per second and per gradient-equivalent.

For each ablation task (MNIST-1D, the five Table 5.1 problems, XOR) the runs come from the
settings in ``protocol.ABLATION``: the task's own (tuned Adam, MSGD, LBFGS, thesis KryBall
— the very runs of Table 5.1/5.2 and XOR, shared), ``ablation_<task>`` (the thesis KryBall with the
task's tuned M and r plus one option), ``kryball_plus_<task>`` and ``kryball_plus_defaults_<task>``
(``optim=kryball_plus``, the winning combination, tuned and as shipped) and, on MNIST-1D, ``adam_long_mnist1d``: tuned Adam for 40× the epochs, read
at the wall-clock KryBall+ used — the equal-compute comparison.

A *gradient-equivalent* is the cost of one gradient: a run's gradients, Hessian-vector products
and extra forward passes (loss evaluations beyond the gradients') weighted by their times
measured on the task's model and first batch on this machine (``bench_step.primitive_costs``).
"""
from __future__ import annotations

import functools
import pathlib
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from suite.reproduction import tables
from suite.reproduction.protocol import ABLATION, SETTINGS, TARGETS
from suite.record import FINAL
from suite.bench import primitive_costs
from suite.config import compose_config
from suite.experiment import build_experiment

LABELS = {"adam": "Adam", "msgd": "MSGD", "lbfgs": "LBFGS", "lbfgs_single": "LBFGS (1 eval.)",
          "kryball": "KryBall (thesis)"}
NOTES = [
    ("Options alone: the thesis KryBall with the task's tuned Krylov dimension and refresh rate plus that "
     "one option (`suite/reproduction/protocol.py`, `ABLATION_OPTIONS`). First-order steps (fallback, "
     "switch, interleave) use Adam at its default lr 1e-3: no option was tuned on its own."),
    ("Gradient-equivalents: gradients + HVPs × t_HVP/t_grad + extra forwards × t_fwd/t_grad, with the "
     "unit times measured on the task's model and first batch on this machine (weights in the header)."),
]


@functools.cache
def unit_costs(setting_name: str) -> dict[str, float]:
    """HVP and forward cost in gradients on the setting's model and first batch (CPU, this machine)."""
    cfg = compose_config([*SETTINGS[setting_name].overrides, "optim=adam"])
    experiment = build_experiment(cfg, torch.device("cpu"), with_optimizer=False)
    task, model = experiment.task, experiment.model
    batch = next(iter(task.batches(1)))
    ms = primitive_costs(model, lambda: task.loss(model, batch=batch), torch.device("cpu"), repeats=30, warmup=5)
    return dict(hvp=ms["hvp_ms"] / ms["gradient_ms"], forward=ms["forward_ms"] / ms["gradient_ms"])


def gradient_equivalents(frame: pd.DataFrame | pd.Series, weights: dict[str, float]):
    """Cumulative cost in gradients of a run's rows (per-epoch metrics or its summary)."""
    extra_forwards = (frame["loss_evals"] - frame["gradient_evals"]).clip(lower=0)
    return frame["gradient_evals"] + weights["hvp"] * frame["hvps"] + weights["forward"] * extra_forwards


KRYBALL_PLUS = {"kryball_plus_{}": "KryBall+ (optim=kryball_plus, tuned)",
                "kryball_plus_defaults_{}": "KryBall+ (optim=kryball_plus, defaults M = 5, r = 3)"}


def cells(records: pd.DataFrame, task: str) -> list[tuple[str, pd.DataFrame]]:
    """(row label, runs) for every cell of one task's ablation, in table order."""
    out = []
    named = [(task, None), (f"ablation_{task}", None), *((p.format(task), label) for p, label in KRYBALL_PLUS.items())]
    for name, label in named:
        setting = SETTINGS[name]
        for optim in setting.optims:
            for variant in setting.variants:
                group = records[(records["setting"] == name) & (records["optim"] == optim)]
                if variant is not None:
                    group = group[group["variant"] == variant]
                if not group.empty:
                    out.append((f"KryBall + {variant}" if variant else label or LABELS[optim], group))
    return out


def per_epoch(group: pd.DataFrame, column: pd.Series) -> str:
    finished = group["status"].isin(FINAL)
    return tables.mean_std(column[finished] / group.loc[finished, "epochs_run"].replace(0, np.nan))


def classification_table(records: pd.DataFrame, task: str, weights: dict[str, float]) -> pd.DataFrame:
    """MNIST-1D: final training loss and test accuracy, costs per epoch, and Adam at equal wall-clock."""
    rows = []
    for label, group in cells(records, task):
        finished = group[group["status"].isin(FINAL)]
        rows.append({"optimiser": label, **{f"ours: {text}": tables.mean_std(finished[key])
                                           for key, text in tables.METRICS_5_2.items()},
                     "wall-clock per epoch (s)": per_epoch(group, group["wall_time_s"]),
                     "gradient-equivalents per epoch": per_epoch(group, gradient_equivalents(group, weights)),
                     "runs": tables.runs_column(group), "config": tables.config_column(group)})
    rows += equal_wall_clock_rows(records, task)
    return pd.DataFrame(rows)


def convergence_table(records: pd.DataFrame, task: str, weights: dict[str, float]) -> pd.DataFrame:
    """Table 5.1 problems and XOR: epochs, seconds and gradient-equivalents to convergence."""
    rows = []
    for label, group in cells(records, task):
        converged = group[group["status"] == "converged"]
        rows.append({"optimiser": label, tables.EPOCHS: tables.epochs_column(group),
                     "wall-clock to convergence (s), median": tables.number(converged["time_to_convergence_s"].median(), 3),
                     "gradient-equivalents to convergence, median":
                         tables.number(gradient_equivalents(converged, weights).median(), 4),
                     "runs": tables.runs_column(group), "config": tables.config_column(group)})
    return pd.DataFrame(rows)


def metrics_of(run_dir: str) -> pd.DataFrame | None:
    path = pathlib.Path(run_dir) / "metrics.csv"
    return pd.read_csv(path) if path.is_file() else None


def equal_wall_clock_rows(records: pd.DataFrame, task: str) -> list[dict]:
    """Tuned Adam, run long, read at the training wall-clock each seed of each KryBall+ used (same seed)."""
    long_name = f"adam_long_{task}"
    if long_name not in SETTINGS:
        return []
    long = records[(records["setting"] == long_name) & records["status"].isin(FINAL)]
    rows = []
    for pattern, plus_label in KRYBALL_PLUS.items():
        plus = records[(records["setting"] == pattern.format(task)) & records["status"].isin(FINAL)]
        found = []
        for seed, budget in zip(plus["seed"], plus["wall_time_s"]):
            run = long[long["seed"] == seed]
            frame = metrics_of(run["run_dir"].iloc[0]) if not run.empty else None
            if frame is None or frame["wall_time_s"].iloc[-1] < budget:
                continue  # no long run, or it ended before KryBall+'s time: no equal-time reading
            within = frame[frame["wall_time_s"] <= budget]
            if within.empty:
                continue
            last = within.iloc[-1]
            found.append(dict(seconds=budget, epochs=last["epoch"], final_train_loss=last["train_loss"],
                              final_test_acc=last["test_acc"], peak_test_acc=within["test_acc"].max()))
        if found:
            found = pd.DataFrame(found)
            rows.append({"optimiser": (f"Adam at the wall-clock of {plus_label} ({tables.number(found['seconds'].mean(), 3)}"
                                       f" s ≈ {tables.number(found['epochs'].mean(), 3)} epochs)"),
                         **{f"ours: {text}": tables.mean_std(found[key]) for key, text in tables.METRICS_5_2.items()},
                         "wall-clock per epoch (s)": "—", "gradient-equivalents per epoch": "—",
                         "runs": f"{len(found)} seeds, each read at its KryBall+ seed's time",
                         "config": tables.config_column(long)})
    return rows


def mean_curve(frames: list[pd.DataFrame], x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """Seed-mean of y and of x at each epoch the seeds share (x: epoch, seconds or gradient-equivalents).
    An epoch where a seed's loss is not finite (a diverged run; the table counts it) is left out."""
    n = min(len(f) for f in frames)
    xs = np.mean([f[x].to_numpy(float)[:n] for f in frames], axis=0)
    ys = np.mean([f[y].to_numpy(float)[:n] for f in frames], axis=0)
    finite = np.isfinite(ys)
    return xs[finite], ys[finite]


def figure(records: pd.DataFrame, task: str, weights: dict[str, float], path: pathlib.Path) -> pathlib.Path | None:
    """Seed-mean training loss (and test accuracy, where there is a test set) against epochs,
    wall-clock and gradient-equivalents, one line per ablation cell."""
    from suite.reproduction.figures import AXES, plt, save  # matplotlib's backend is set there

    curves = []
    for label, group in cells(records, task):
        frames = [f.assign(grad_eq=gradient_equivalents(f, weights)) for d in group["run_dir"]
                  if (f := metrics_of(d)) is not None and not f.empty]
        if frames:
            curves.append((label, frames))
    if not curves:
        return None
    ys = ["train_loss", *(["test_acc"] if curves[0][1][0]["test_acc"].notna().any() else [])]
    fig, axes = plt.subplots(len(ys), 3, figsize=(15, 4.2 * len(ys)), squeeze=False)
    styles = ["-", "--", ":", "-."]
    for i, (label, frames) in enumerate(curves):
        for row, y in enumerate(ys):
            for col, x in enumerate(("epoch", "wall_time_s", "grad_eq")):
                xs, values = mean_curve(frames, x, y)
                axes[row][col].plot(xs, values, lw=1.3, ls=styles[i // 10 % 4], label=label if row == col == 0 else None)
                axes[row][col].set(xlabel=AXES[x].replace("(gradients + HVPs)", "(measured weights)"),
                                   ylabel=AXES[y], xscale="log" if x != "epoch" else "linear",
                                   yscale="log" if y == "train_loss" else "linear")
                axes[row][col].grid(alpha=0.3)
    start = max(frames[0]["train_loss"].iloc[0] for _, frames in curves)
    for ax in axes[0]:  # as in figures.curves: a diverging run leaves the plot instead of squashing the rest
        ax.set_ylim(top=10 * start)
    fig.suptitle(f"Ablation on {SETTINGS[task].label}: seed-mean curves")
    fig.legend(loc="upper center", ncol=5, fontsize=8, bbox_to_anchor=(0.5, 0.96))
    return save(fig, path, top=0.9 if len(ys) == 2 else 0.82)


def write(records: pd.DataFrame, out: pathlib.Path, suffix: str,
          header: Callable[[list[str]], list[str]]) -> list[pathlib.Path]:
    """One table (CSV + Markdown) and one figure per ablation task that has runs; ``header(names)``
    gives the lines that say how the named settings ran."""
    written = []
    for task, names in ABLATION.items():
        runs = records[records["setting"].isin(names)]
        if runs.empty:
            continue
        weights = unit_costs(task)
        build_table = classification_table if task in TARGETS["table_5_2"] else convergence_table
        table = build_table(runs, task, weights)
        weights_note = (f"Measured unit costs on {SETTINGS[task].label}: one HVP = {weights['hvp']:.2f} gradients, "
                        f"one forward = {weights['forward']:.2f} gradients.")
        written += tables.write([table], runs, out, f"ablation_{task}{suffix}",
                                f"Ablation (issue 7) on {SETTINGS[task].label}",
                                [*header([n for n in names if n in set(runs["setting"])]), *NOTES, weights_note])
        if (png := figure(runs, task, weights, out / f"fig_ablation_{task}{suffix}.png")) is not None:
            written.append(png)
    return written
