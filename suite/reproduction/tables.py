"""Build the thesis tables from run records and write them as CSV and Markdown.

The builders take the records ``runner.run_all`` returns (one row per planned run: setting,
optim, seed, tuned, status and the DESIGN.md §5 outcomes) and return one DataFrame row per cell,
with the thesis's number beside ours (DESIGN.md §7). Every planned run is counted in a cell's
``runs`` column whatever its status, so a crashed, diverged or never-converged run is visible.
"""
from __future__ import annotations

import math
import pathlib

import numpy as np
import pandas as pd

from suite.reproduction.protocol import Setting
from suite.record import FINAL

EPOCHS = "ours: epochs, median [min–max]"
CONVERGENCE_NOTES = [
    ("Epochs to convergence: the median over all seeds that finished, a seed that never converged "
     "counting as beyond the budget; [min–max] over the converged seeds. N/A: the median seed did not "
     "converge — `N/A (diverged)` for a non-finite loss, `N/A (not converged)` for a run that used the "
     "whole budget."),
    ("Costs (fairness columns): medians over the converged seeds of the cumulative gradient evaluations, "
     "Hessian-vector products, loss evaluations and training wall-clock up to convergence (runs stop at "
     "convergence, so a run's totals are its costs to convergence). A loss evaluation is one call of the "
     "closure; an LBFGS line search makes several per epoch."),
]


def number(value: float, digits: int = 4) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def mean_std(values: pd.Series, digits: int = 3) -> str:
    """``mean ± std`` over seeds (one seed: the value alone); ``—`` when there is none."""
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return "—"
    if len(values) == 1:
        return number(values.iloc[0], digits)
    return f"{number(values.mean(), digits)} ± {number(values.std(), 2)}"


def median_range(values: pd.Series, digits: int = 3) -> str:
    """``median [min–max]`` over seeds (one seed: the value alone)."""
    if len(values) == 1:
        return number(values.iloc[0], digits)
    return f"{number(values.median(), digits)} [{number(values.min(), digits)}–{number(values.max(), digits)}]"


def runs_column(group: pd.DataFrame) -> str:
    """How a cell's runs ended, e.g. ``2/3 converged, 1 diverged``; failures name their error."""
    counts = group["status"].value_counts()
    text = ", ".join(f"{n} {status}" for status, n in counts.items())
    if "converged" in counts:
        rest = ", ".join(f"{n} {status}" for status, n in counts.items() if status != "converged")
        text = f"{counts['converged']}/{len(group)} converged" + (f", {rest}" if rest else "")
    errors = group.loc[group["status"] == "failed", "error"].dropna().unique()
    return text + "".join(f" ({e})" for e in errors)


def config_column(group: pd.DataFrame) -> str:
    """Tuned (which file) or the optimiser's defaults, with the sweep that would tune them."""
    tuned = group["tuned"].dropna().unique()
    if len(tuned):
        return f"tuned: +tuned={tuned[0]}"
    sweeps = group["sweep_command"].dropna()
    return f"untuned defaults (tune: `{sweeps.iloc[0]}`)" if len(sweeps) else "defaults, by design"


def epochs_column(group: pd.DataFrame) -> str:
    finished = group[group["status"].isin(FINAL)]
    if finished.empty:
        return "failed"
    converged = finished.loc[finished["status"] == "converged", "epochs_to_convergence"].astype(float)
    median = float(np.median([*converged, *[math.inf] * (len(finished) - len(converged))]))
    if math.isinf(median):
        reasons = {"diverged": "diverged", "completed": "not converged"}
        return "N/A (" + " / ".join(dict.fromkeys(reasons[s] for s in finished["status"] if s in reasons)) + ")"
    return f"{number(median)} [{number(converged.min())}–{number(converged.max())}]"


def convergence_table(records: pd.DataFrame, settings: list[Setting], thesis: dict) -> pd.DataFrame:
    """Table 5.1 / XOR (§5.3.1–5.3.2): one row per setting × optimiser that has runs."""
    rows = []
    for setting in settings:
        for optim in setting.optims:
            group = records[(records["setting"] == setting.name) & (records["optim"] == optim)]
            if group.empty:
                continue
            converged = group[group["status"] == "converged"]
            rows.append({
                "setting": setting.label, "optimiser": optim, "thesis: epochs": thesis[setting.name][optim],
                EPOCHS: epochs_column(group),
                "ours: mean ± std (converged)": mean_std(converged["epochs_to_convergence"], digits=4),
                "runs": runs_column(group),
                "gradient evals": number(converged["gradient_evals"].median()),
                "HVPs": number(converged["hvps"].median()),
                "loss evals": number(converged["loss_evals"].median()),
                "wall-clock to convergence (s)": number(converged["time_to_convergence_s"].median(), 3),
                "config": config_column(group)})
    return pd.DataFrame(rows)


def thesis_layout(table: pd.DataFrame) -> pd.DataFrame:
    """The thesis's own layout (optimisers × settings), each cell ``ours (thesis: …)``."""
    cells = table.assign(cell=table[EPOCHS].str.replace(r" \[.*\]", "", regex=True)
                         + " (thesis: " + table["thesis: epochs"] + ")")
    wide = cells.pivot(index="optimiser", columns="setting", values="cell")
    return wide.reindex(index=list(dict.fromkeys(table["optimiser"])),
                        columns=list(dict.fromkeys(table["setting"]))).fillna("").reset_index()


METRICS_5_2 = {"final_train_loss": "final training loss", "peak_test_acc": "peak test accuracy",
               "final_test_acc": "final test accuracy"}


def classification_table(records: pd.DataFrame, settings: list[Setting], thesis: dict,
                         not_run: dict[str, str], run_command: str) -> pd.DataFrame:
    """Table 5.2 (§5.3.3): mean ± std over seeds beside the thesis; settings that could not run
    here keep their thesis numbers and say why and how to run them — nothing is filled in."""
    rows = []
    for setting in settings:
        for optim in setting.optims:
            group = records[(records["setting"] == setting.name) & (records["optim"] == optim)]
            if group.empty and setting.name not in not_run:
                continue
            finished = group[group["status"].isin(FINAL)]
            row = {"model": setting.label, "optimiser": optim}
            for key, label in METRICS_5_2.items():
                row[f"ours: {label}"] = mean_std(finished[key]) if not group.empty else "not run here"
                row[f"thesis: {label}"] = thesis[setting.name][optim][key]
            if group.empty:
                row.update({"wall-clock per epoch (s)": "—", "runs": f"not run here: {not_run[setting.name]}",
                            "config": f"run: `{run_command}`"})
            else:
                per_epoch = finished["wall_time_s"] / finished["epochs_run"].replace(0, np.nan)
                row.update({"wall-clock per epoch (s)": mean_std(per_epoch), "runs": runs_column(group),
                            "config": config_column(group)})
            rows.append(row)
    return pd.DataFrame(rows)


def write(tables: list[pd.DataFrame], runs: pd.DataFrame, out: pathlib.Path, stem: str, title: str,
          notes: list[str], data: pd.DataFrame | None = None) -> list[pathlib.Path]:
    """``<stem>.csv`` (``data`` where given — the numbers behind formatted tables — else the first
    table), ``<stem>.md`` (title, notes, every table) and ``<stem>.runs.csv`` (every run behind it:
    status, outcomes, directory, error)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.csv", out / f"{stem}.md", out / f"{stem}.runs.csv"]
    (tables[0] if data is None else data).to_csv(paths[0], index=False)
    # disable_numparse: tabulate would print the thesis's "7.5e-5" as "7.5e-05"
    body = "\n\n".join(table.to_markdown(index=False, disable_numparse=True) for table in tables if not table.empty)
    notes = [*notes, f"Every run behind this table (status, outcomes, directory): `{paths[2].name}`."]
    bullets = "".join(f"- {note}\n" for note in notes)
    paths[1].write_text(f"# {title}\n\n{bullets}\n{body or '(no runs)'}\n")
    runs.to_csv(paths[2], index=False)
    return paths
