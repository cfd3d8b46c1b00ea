"""The comparison protocol's report, for one track: final cells with 95 % confidence intervals, time-to-target
and performance profiles over its workloads (``comparison_settings``; docs/results.md, "The comparison
protocol").

:func:`measure` turns a track's run records into what the report is built from (:class:`Measured`: the runs,
each workload's target, every run's time to target); :func:`write` writes the report, and
:func:`markdown_block` the tables that docs/results.md holds. The per-run results files
(``per_run.py``) hold a :class:`Measured`, so a report rebuilt from them is the report of the runs.

Writes, under OUT, with ``<track>`` (``tuned``, ``self_tuning``) and ``.quick`` under the quick protocol in
``SUFFIX`` (``comparison.self_tuning.quick.md``):

- ``comparison.SUFFIX.md/.csv/.runs.csv`` — the final cells: epochs to convergence on the function
  problems and XOR, the final metrics of MNIST-1D, the final and best metric of the workloads with a threshold
  target (one table per metric; on the tuned track, with what each cell's tuning cost);
- ``time_to_target.SUFFIX.md/.csv/.runs.csv`` — each workload's target, epochs / wall-clock /
  gradient-equivalents to reach it per cell, and the wall-clock performance ratios (CSV: every run);
- ``performance_profile.SUFFIX.png/.csv`` — Dolan–Moré profiles over the workloads (``profiles``);
- ``fig_time_to_target.SUFFIX.png`` — the target's metric (validation or test accuracy; an L2 relative error on a
  log scale, a PSNR) against wall-clock and gradient-equivalents with the target line, for each workload whose
  target is a value of a metric.
"""
from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable

import pandas as pd

from suite.optimisers.presentation import label, look
from suite.records import GRAD_EQ, Records, median_interval
from suite.reproduction import profiles, tables, targets, tuning
from suite.reproduction.beyond_thesis_settings import PUBLISHED
from suite.reproduction.columns import (EPOCHS, config_column, epochs_column, interval, mean_ci, number, per_epoch,
                                        runs_column)
from suite.reproduction.comparison_settings import Criterion, Track, Workload
from suite.reproduction.plots import axis_label, plt, save
from suite.reproduction.targets import MEASURES, METRIC_NAMES, TARGET_STATISTIC
from suite.run_record import GOALS, RunStatus
from suite.sweeps.tuned import TUNED_DIR

MEDIAN_CI = "95 % CI of the median"
CONVERGED_MEAN = "converged runs: mean ± 95 % CI"
NOTES = [
    ("Seeds: 10 per cell, 5 where a run is expensive (named in the lines above: `5 seeds: expensive`), 3 on the "
     "physics-informed tasks and image fitting (each setting's line above says); `--seeds` overrides them all."),
    ("`mean ± h (n = k)`: the mean over the k finished runs with a value, h the half-width of its 95 % "
     "confidence interval (Student's t, k − 1 degrees of freedom)."),
    ("Epochs to convergence are censored: a run that never converged has no number, only \"more than the "
     "budget\". So the cell is the median over all finished runs, a run that never converged counting as "
     f"∞, with [min–max] over the converged ones; `{MEDIAN_CI}` is the distribution-free interval between "
     "two order statistics (binomial, Conover §3.2), valid with ∞ among the values — it ends at ∞ when too "
     "few runs converged to bound the median, and names its coverage when there are too few seeds for "
     f"95 % (5 seeds: 93.75 %). `{CONVERGED_MEAN}` is conditional on converging, so it flatters a cell "
     "where some runs did not: read it with the `runs` column."),
]
TRACK_NOTES = {
    "tuned": [("Cells use their task's tuned config (`config` column: the default tuning protocol's winner); "
               f"`{tuning.UNTUNED}` cells run the optimiser's defaults. `tuning`: the wall-clock and the runs of the "
               "sweep that wrote the cell's tuned config (its `conf/tuned/*.results.json`).")],
    "self_tuning": [("Self-tuning track (AlgoPerf's self-tuning ruleset): every optimiser from its "
                     "`conf/optim/<name>.yaml` unchanged — no `+tuned=`, no search — for one wall-clock budget per "
                     "workload, the same for every optimiser (the lines above); a run ends when its training "
                     "wall-clock reaches the budget, at convergence, or at its epoch cap.")],
}
TARGET_NOTES = [
    ("Time to target (AlgoPerf): the first epoch at which a run reaches its workload's target, and the "
     "training wall-clock and gradient-equivalents (gradients + HVPs, nominal count) until then; ∞ for a "
     "run that never does (under a time budget: within it). Per cell: the low median over its finished runs, "
     "∞ counted — the time by which half of them had reached it (with an even number of seeds the usual median "
     "would average in the first run that did not) — and [min–max] over those that reached it; `reached` "
     "counts them. Failed runs are left out (the `.runs.csv` lists them)."),
    ("Targets: the task's convergence criterion on the function problems and XOR; on a classification task "
     "the median final validation accuracy of the best tuned first-order baseline over its seeds "
     "(`suite/reproduction/targets.py`), the same on both tracks (the targets table says where it was set). "
     "The baseline's own runs reach it about half the time by construction. On the physics-informed tasks and "
     "image fitting, a threshold declared with its reason (`suite/reproduction/comparison_settings.py`): an L2 "
     "relative error at most, a PSNR at least."),
    ("Performance ratios r = t / (fastest t on the workload), t a cell's time to target as above; "
     "B = AlgoPerf's score, the area under the performance profile up to r = 4, normalised "
     "(`performance_profile.*.png`, `.csv`: every measure). An optimiser that did not run on a workload counts "
     "there as never reaching the target; XOR's one-evaluation LBFGS counts as LBFGS (tuned by the same sweep)."),
]
TUNING_NOTE = ("Tuned track: `tuning` is the wall-clock and the number of runs of the sweep behind the cell's "
               "tuned config, and the wall-clock to target including tuning adds it to the cell's wall-clock to "
               "target — what a user who tunes by the default protocol first waits for.")


@dataclasses.dataclass
class Measured:
    """What a track's report is built from: one row per run (``records``: setting, optim, seed, tuned, status,
    the summary's outcomes; on the tuned track the tuning costs), each workload's target (in workload order)
    and every finished run's time to target (``times``: ``targets.TIME_COLUMNS``)."""

    records: Records
    targets: list[targets.Target]
    times: pd.DataFrame

    def target(self, workload: Workload) -> targets.Target:
        """The workload's target."""
        return next(t for t in self.targets if t.workload.setting.name == workload.setting.name)


def with_runs(records: Records, workloads: list[Workload]) -> list[Workload]:
    """The workloads that have runs in ``records``."""
    return [w for w in workloads if not records.where(setting=w.setting.name).empty]


def measure(records: Records, workloads: list[Workload], track: Track, quick: bool = False,
            target_sources: Callable[[Workload], list] | None = None,
            tuned_dir: pathlib.Path = TUNED_DIR) -> Measured:
    """The track's runs among ``records``, their targets and times to target. ``target_sources(workload)``:
    where a workload's target is set (``targets.target_from``); None: from the workload's own runs.
    ``tuned_dir``: where the tuned track's cells' results files (their tuning costs) are."""
    workloads = with_runs(records, workloads)
    runs = records.where(setting=[w.setting.name for w in workloads])
    if track.tuned:
        runs = tuning.with_costs(runs, tuned_dir)
    found = [targets.target_from(w, target_sources(w)) if target_sources
             else targets.target_of(runs.where(setting=w.setting.name), w) for w in workloads]
    return Measured(runs, found, targets.all_run_times(runs, found, quick=quick))


def convergence_table(records: Records, workloads: list[Workload], sweeps_dir: pathlib.Path,
                      show_tuning: bool = False) -> pd.DataFrame:
    """Function problems and XOR: epochs to convergence per cell, with their confidence intervals."""
    rows = []
    for workload in workloads:
        setting = workload.setting
        for _, optim, cell in tables.table_cells(records, [setting], sweeps_dir):
            if cell.empty:
                continue
            finished = cell.finished()
            converged = finished.frame["status"] == RunStatus.CONVERGED.value
            epochs = finished.column("epochs_to_convergence").where(converged)  # never converged: ∞ below
            rows.append({"task": setting.label, "optimiser": optim,
                         "thesis: epochs": tables.thesis_column(setting, optim), EPOCHS: epochs_column(cell),
                         MEDIAN_CI: interval(*median_interval(epochs.fillna(float("inf")))),
                         CONVERGED_MEAN: mean_ci(cell.converged().stats("epochs_to_convergence"), digits=4),
                         "runs": runs_column(cell), "config": config_column(cell),
                         **({"tuning": tuning.column(cell.frame)} if show_tuning else {})})
    return pd.DataFrame(rows)


# The final metrics of a classification cell (summary fields); validation ones where the records have them.
FINAL_METRICS = {"final_train_loss": "final training loss", "final_val_loss": "final validation loss",
                 "final_val_acc": "final validation accuracy", "peak_val_acc": "peak validation accuracy",
                 "final_test_acc": "final test accuracy", "peak_test_acc": "peak test accuracy"}


def metrics_table(records: Records, workloads: list[Workload], sweeps_dir: pathlib.Path, shown: dict[str, str],
                  show_tuning: bool = False) -> pd.DataFrame:
    """The final cells of workloads scored by their metrics: each summary field of ``shown`` (field -> column) as
    mean ± 95 % CI over the finished runs of a cell, the epochs run and the wall-clock per epoch."""
    rows = []
    for workload in workloads:
        for setting, optim, cell in tables.table_cells(records, [workload.setting], sweeps_dir):
            if cell.empty:
                continue
            finished = cell.finished()
            rows.append({"task": setting.label, "optimiser": optim,
                         **{name: mean_ci(finished.stats(key)) for key, name in shown.items()},
                         "epochs run": mean_ci(finished.stats("epochs_run")),
                         "wall-clock per epoch (s)": mean_ci(per_epoch(cell, cell.column("wall_time_s"))),
                         "runs": runs_column(cell), "config": config_column(cell),
                         **({"tuning": tuning.column(cell.frame)} if show_tuning else {})})
    return pd.DataFrame(rows)


def classification_table(records: Records, workloads: list[Workload], sweeps_dir: pathlib.Path,
                         show_tuning: bool = False) -> pd.DataFrame:
    """Classification tasks: each final metric (validation ones where the records have them)."""
    shown = {key: name for key, name in FINAL_METRICS.items() if records.finished().stats(key).n}
    return metrics_table(records, workloads, sweeps_dir, shown, show_tuning)


# A threshold workload's metric at the end of its runs and at their best epoch: summary fields <statistic>_<metric>.
THRESHOLD_STATISTICS = ("final", "best")


def threshold_table(records: Records, workloads: list[Workload], sweeps_dir: pathlib.Path,
                    show_tuning: bool = False) -> pd.DataFrame:
    """Workloads with a threshold target on one metric, the same for all of them (``final_tables`` groups them so):
    its final and best value."""
    metric = workloads[0].threshold.metric
    shown = {f"{statistic}_{metric}": f"{statistic} {METRIC_NAMES[metric]}" for statistic in THRESHOLD_STATISTICS}
    return metrics_table(records, workloads, sweeps_dir, shown, show_tuning)


def final_tables(measured: Measured, workloads: list[Workload], sweeps_dir: pathlib.Path,
                 show_tuning: bool) -> list[pd.DataFrame]:
    """The final cells: the function problems' and XOR's, the classification tasks', then those of the workloads with
    a threshold target, one table per metric (``l2_relative_error``, ``test_psnr``)."""
    workloads = with_runs(measured.records, workloads)
    functions = [w for w in workloads if w.criterion is Criterion.CONVERGENCE]
    classification = [w for w in workloads if w.criterion is Criterion.ACCURACY]
    thresholds = [w for w in workloads if w.criterion is Criterion.THRESHOLD]
    metrics = dict.fromkeys(w.threshold.metric for w in thresholds)  # in workload order
    return [convergence_table(measured.records, functions, sweeps_dir, show_tuning),
            classification_table(measured.records, classification, sweeps_dir, show_tuning),
            *(threshold_table(measured.records, [w for w in thresholds if w.threshold.metric == metric], sweeps_dir,
                              show_tuning) for metric in metrics)]


# Ours beside Rathore et al.'s numbers: the same Adam warm start, then a second-order method — L-BFGS as in the
# paper, scipy's trust-region Newton–Krylov where the paper runs its Newton–CG (after L-BFGS), and the KryBalls.
BESIDE_PUBLISHED = ("adam_then_lbfgs", "adam_then_trust_krylov", "adam_then_kryball", "adam_then_kryball_plus")
PUBLISHED_NOTE = ("Physics-informed tasks beside Rathore et al. (ICML 2024, Tables 1–2): their final L2 relative "
                  "error at the paper's size (10,000 residual points, 41,000 steps, on a GPU), ours at the CPU size "
                  "(`task=pinn_<task>`: a 2-32-32-32-1 tanh MLP on 1000 residual points, this track's budget): mean ± "
                  "95 % CI over the seeds, and the lowest mean of any optimiser on the task.")


def published_table(records: Records, workloads: list[Workload]) -> pd.DataFrame:
    """The final L2 relative error of the physics-informed workloads beside Rathore et al.'s (``PUBLISHED``): the
    paper's two numbers, ours of each optimiser of :data:`BESIDE_PUBLISHED`, and our lowest mean on the task."""
    rows = []
    for workload in with_runs(records, workloads):
        paper = PUBLISHED.get(workload.task)
        if paper is None:
            continue
        runs = records.where(setting=workload.setting.name).finished()
        errors = {optim: runs.where(optim=optim).stats("final_l2_relative_error")
                  for optim in dict.fromkeys([*BESIDE_PUBLISHED, *runs.distinct("optim")])}
        means = {optim: stats.mean for optim, stats in errors.items() if stats.n}
        lowest = min(means, key=means.get, default=None)
        rows.append({"task": workload.label,
                     "Rathore et al. (paper size): Adam → L-BFGS": number(paper.adam_lbfgs, 3),
                     "Rathore et al. (paper size): Adam → L-BFGS → NNCG": number(paper.adam_lbfgs_nncg, 3),
                     **{f"ours (CPU size): {label(optim)}": mean_ci(errors[optim]) for optim in BESIDE_PUBLISHED},
                     "ours (CPU size): lowest mean": "—" if lowest is None else
                     f"{label(lowest)}: {number(means[lowest], 3)}"})
    return pd.DataFrame(rows)


def untuned_notes(measured: Measured, workloads: list[Workload]) -> list[str]:
    """Why the cells of a workload run untuned (``Workload.untuned``), for the workloads among ``workloads`` that have
    runs without a tuned config."""
    notes = {}
    for workload in with_runs(measured.records, workloads):
        runs = measured.records.where(setting=workload.setting.name)
        if workload.untuned and not runs.where(tuned=None).empty:
            notes.setdefault(workload.untuned, []).append(workload.label)
    return [f"Untuned cells on {', '.join(labels)}: {why}." for why, labels in notes.items()]


def target_tables(measured: Measured, show_tuning: bool, ratios_in=tuple(MEASURES)) -> list[pd.DataFrame]:
    """The targets, each cell's time to target, and the performance ratios in each measure of ``ratios_in``."""
    built = [targets.targets_table(measured.targets), targets.summary_table(measured.times, measured.targets,
                                                                             show_tuning)]
    if not measured.times.empty:
        built += [profiles.ratios_table(measured.times, measure) for measure in ratios_in]
    return built


def target_line(target: targets.Target) -> str:
    """The target line's legend entry."""
    if target.workload.criterion is Criterion.ACCURACY:
        return (f"target {target.value:.4g} ({TARGET_STATISTIC} {METRIC_NAMES[target.metric]}, "
                f"median of {label(target.baseline)})")
    return f"target: {target.text} (declared)"


def target_figure(records: Records, found: list[targets.Target], path: pathlib.Path) -> pathlib.Path | None:
    """The target's metric against wall-clock and gradient-equivalents, one line per run, with the target line,
    for each workload whose target is a value of a metric (MNIST-1D's accuracy, a threshold); an error (a metric
    better lower) on a log scale."""
    shown = [t for t in found if t.workload.criterion is not Criterion.CONVERGENCE and t.defined]
    if not shown:
        return None
    fig, axes = plt.subplots(len(shown), 2, figsize=(12, 4.3 * len(shown)), squeeze=False)
    for (clock, cost), target in zip(axes, shown):
        runs = records.where(setting=target.workload.setting.name).finished()
        for optim in runs.distinct("optim"):
            style = look(optim)
            for i, (_, curve) in enumerate(runs.where(optim=optim).each_run()):
                if curve is None or target.metric not in curve:
                    continue
                for ax, x in ((clock, "wall_time_s"), (cost, GRAD_EQ)):
                    ax.plot(curve[x], curve[target.metric], color=style.colour, ls=style.line_style, lw=1.1,
                            alpha=1.0 if i == 0 else 0.35, label=label(optim) if i == 0 else None)
        for ax, x in ((clock, "wall_time_s"), (cost, GRAD_EQ)):
            ax.axhline(target.value, color="black", ls=":", lw=1.2, label=target_line(target))
            ax.set(xscale="log", xlabel=axis_label(x), ylabel=METRIC_NAMES[target.metric],
                   yscale="log" if GOALS[target.metric] == "min" else "linear",
                   title=f"{target.workload.label}: time to target")
            ax.grid(alpha=0.3, which="both")
        clock.legend(fontsize=8, loc="upper right" if GOALS[target.metric] == "min" else "lower right")
    return save(fig, path)


def write(measured: Measured, workloads: list[Workload], track: Track, out: pathlib.Path, suffix: str,
          header: Callable[[list[str]], list[str]], sweeps_dir: pathlib.Path) -> list[pathlib.Path]:
    """Every file of the module docstring for the workloads that have runs; ``suffix`` is ``.<track>[.quick]``
    and ``header(names)`` gives the lines that say how the named settings ran."""
    workloads = with_runs(measured.records, workloads)
    if not workloads:
        return []
    runs, lines = measured.records, header([w.setting.name for w in workloads])
    finals = final_tables(measured, workloads, sweeps_dir, track.tuned)
    untuned = untuned_notes(measured, workloads) if track.tuned else []
    published = published_table(runs, workloads)
    written = tables.write([*finals, published], runs, out, f"comparison{suffix}",
                           f"Comparison protocol, {track.title}: final cells with 95 % confidence intervals",
                           [*lines, *NOTES, *TRACK_NOTES[track.name], *untuned,
                            *([PUBLISHED_NOTE] if not published.empty else [])],
                           data=pd.concat(finals, ignore_index=True))
    notes = [*lines, *TARGET_NOTES, *([TUNING_NOTE] if track.tuned else []), *untuned]
    # The report's Markdown shows the wall-clock ratios; the other measures' are in performance_profile.*.csv.
    written += tables.write(target_tables(measured, track.tuned, ["wall_time_s"]), runs, out,
                            f"time_to_target{suffix}", f"Comparison protocol, {track.title}: time to target", notes,
                            data=measured.times)
    if not measured.times.empty:
        profile = out / f"performance_profile{suffix}.csv"
        profiles.long_table(measured.times).to_csv(profile, index=False)
        written += [profile, profiles.figure(measured.times, out / f"performance_profile{suffix}.png")]
    if (png := target_figure(runs, measured.targets, out / f"fig_time_to_target{suffix}.png")) is not None:
        written.append(png)
    return written


def markdown_block(measured: Measured, workloads: list[Workload], track: Track, sweeps_dir: pathlib.Path) -> str:
    """The track's tables as docs/results.md holds them: the final cells, the targets, each cell's time to
    target and the performance ratios in every measure — nothing that depends on when or where it is made."""
    built = [*final_tables(measured, workloads, sweeps_dir, track.tuned), published_table(measured.records, workloads),
             *target_tables(measured, track.tuned)]
    return "\n\n".join(table.to_markdown(index=False, disable_numparse=True) for table in built if not table.empty)
