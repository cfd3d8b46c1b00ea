"""Performance profiles over the comparison's workloads (Dolan & Moré, "Benchmarking optimization
software with performance profiles", Math. Program. 91, 2002; AlgoPerf's variant:
mlcommons/algorithmic-efficiency, docs/DOCUMENTATION.md, "Benchmark score using performance profiles").

For optimiser s and workload p, t_{p,s} is the (low) median over seeds of the time to target
(``targets.cell_time``; ∞ counted, so it is ∞ when fewer than half the seeds reached it) — AlgoPerf's
median over studies. An optimiser is identified by the sweep that tunes it (``setting.sweep_optim``),
so XOR's one-evaluation LBFGS is the profile's LBFGS, as in the thesis (§5.3.2). An optimiser that
did not run on a workload (NaN here, "not run" in tables) counts as never reaching its target
(AlgoPerf scores a missing workload as infinite time), and the figure's legend says on how many
workloads each ran. Then

    r_{p,s} = t_{p,s} / min_s t_{p,s}   (∞ when t_{p,s} = ∞; every r is ∞ on a workload no one solved)
    ρ_s(τ)  = |{p : r_{p,s} ≤ τ}| / |P|
    B_s     = 1/(r_max − 1) ∫_1^{r_max} ρ_s(τ) dτ,  r_max = 4   (AlgoPerf's benchmark score)

ρ_s is a step function, so B_s is exact: the mean over workloads of max(0, r_max − r_{p,s}) / (r_max − 1).
Each is computed for every measure of time (wall-clock, gradient-equivalents, epochs).
"""
from __future__ import annotations

import math
import pathlib

import numpy as np
import pandas as pd
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from suite.optimisers.presentation import label, look
from suite.reproduction.plots import plt, save
from suite.reproduction.setting import sweep_optim
from suite.reproduction.targets import MEASURES, cell_time

R_MAX = 4.0  # AlgoPerf: no credit beyond 4× the fastest, and the upper limit of its profile plot


def task_times(times: pd.DataFrame, measure: str) -> pd.DataFrame:
    """t_{p,s}: workloads (rows, by label) × optimisers (columns, in order of appearance); ∞ where the
    median seed never reached the target, NaN where the optimiser did not run on the workload."""
    times = times.assign(optimiser=times["optimiser"].map(sweep_optim))
    medians = times.groupby(["task", "optimiser"], sort=False)[measure].agg(cell_time)
    return medians.unstack("optimiser").reindex(index=list(dict.fromkeys(times["task"])),
                                                columns=list(dict.fromkeys(times["optimiser"])))


def ratios(t: pd.DataFrame) -> pd.DataFrame:
    """r_{p,s} = t_{p,s} / min_s t_{p,s} per workload (row); a row without a finite time is all ∞;
    NaN stays NaN (not run)."""
    values = t.to_numpy(dtype=float)
    ran = ~np.isnan(values)
    best = np.where(ran, values, math.inf).min(axis=1, keepdims=True) if values.size else values
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(np.isfinite(best), values / best, math.inf)
    r = np.where(np.isnan(r), 1.0, r)  # 0/0: two instant runs tie
    return pd.DataFrame(np.where(ran, r, math.nan), index=t.index, columns=t.columns)


def rho(r: pd.DataFrame, taus) -> pd.DataFrame:
    """ρ_s(τ) for each τ (rows) and optimiser (columns): the fraction of workloads with r_{p,s} ≤ τ
    (a workload it did not run on counts, as never reached)."""
    taus = np.asarray(taus, dtype=float)
    return pd.DataFrame({optim: [(r[optim] <= tau).mean() for tau in taus] for optim in r.columns}, index=taus)


def score(r: pd.DataFrame, r_max: float = R_MAX) -> pd.Series:
    """AlgoPerf's B_s, the normalised area under ρ_s on [1, r_max]: 1 for the fastest everywhere, 0 for
    an optimiser never within r_max of the fastest."""
    return ((r_max - r.fillna(math.inf).clip(lower=1.0)).clip(lower=0.0) / (r_max - 1)).mean(axis=0)


def long_table(times: pd.DataFrame) -> pd.DataFrame:
    """Every t_{p,s} and r_{p,s} per measure, with each optimiser's B_s: the numbers behind the figure."""
    rows = []
    for measure, name in MEASURES.items():
        t = task_times(times, measure)
        r, b = ratios(t), score(ratios(t))
        for task in t.index:
            for optim in t.columns:
                rows.append({"measure": name, "task": task, "optimiser": optim, "time (low median over seeds)":
                             t.loc[task, optim], "ratio r": r.loc[task, optim], "score B (r_max = 4)": b[optim]})
    return pd.DataFrame(rows)


def ratios_table(times: pd.DataFrame, measure: str = "wall_time_s") -> pd.DataFrame:
    """r_{p,s} as text, workloads × optimisers, with B_s as the last row (for the Markdown report)."""
    r = ratios(task_times(times, measure))
    text = r.map(lambda value: "not run" if math.isnan(value) else "∞" if value == math.inf else f"{value:.3g}")
    text.loc[f"score B (r_max = {R_MAX:g})"] = score(r).map(lambda value: f"{value:.2f}")
    return text.rename_axis(f"r = t / fastest t ({MEASURES[measure]})").reset_index()


def figure(times: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """ρ_s(τ) against τ (log axis), one panel per measure of time, one step line per optimiser."""
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(5.5 * len(MEASURES), 5.2), squeeze=False)
    ran = times.assign(optimiser=times["optimiser"].map(sweep_optim)).groupby("optimiser", sort=False)["task"].nunique()
    n_tasks = times["task"].nunique()
    for ax, (measure, name) in zip(axes[0], MEASURES.items()):
        r = ratios(task_times(times, measure))
        finite = r.to_numpy()[np.isfinite(r.to_numpy())]
        tau_max = 1.5 * max(R_MAX, float(finite.max()) if finite.size else 1.0)
        taus = np.unique(np.concatenate([[1.0, tau_max], finite]))
        profile, b = rho(r, taus), score(r)
        for optim in r.columns:
            style = look(optim)
            where = f", ran on {ran[optim]} of {n_tasks}" if ran[optim] < n_tasks else ""
            ax.step(taus, profile[optim], where="post", color=style.colour, ls=style.line_style, lw=1.6,
                    label=f"{label(optim)} (B = {b[optim]:.2f}{where})")
        ax.axvline(R_MAX, color="grey", ls=":", lw=1)
        ax.set(xscale="log", xlim=(1, tau_max), ylim=(-0.02, 1.02), xlabel=f"τ (ratio to the fastest, {name})",
               ylabel="ρ(τ): fraction of workloads within τ", title=f"time to target: {name}")
        # Plain ratios (1, 2, 5, 10, ...) read better than powers of ten over one or two decades.
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.suptitle(f"Performance profiles over {n_tasks} workloads (Dolan & Moré 2002; B: AlgoPerf's score, "
                 f"area up to τ = {R_MAX:g}, dotted)")
    return save(fig, path, top=0.93)
