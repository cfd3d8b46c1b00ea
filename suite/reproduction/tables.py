"""The thesis tables (Table 5.1, XOR, Table 5.2) from run records, written as CSV and Markdown.

Each table is declared with the settings it shows (:data:`TABLE_5_1`, :data:`XOR`,
:data:`TABLE_5_2`). The builders take the records ``runner.run_all`` returns (one row per planned
run: setting, optim, seed, tuned, status and the outcomes of docs/design.md §5) and return one row
per setting × optimiser, with the thesis's number beside ours (docs/design.md §7); a row of an
optimiser the thesis did not run says so. Every planned run is counted in a cell's ``runs`` column
whatever its status, so a crashed, diverged or never-converged run is visible.
"""
from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterator

import pandas as pd

from suite.optimisers.presentation import thesis_number
from suite.records import Records
from suite.reproduction import chapter5
from suite.reproduction.columns import EPOCHS, config_column, epochs_column, mean_std, number, per_epoch, runs_column
from suite.reproduction.setting import SWEEPS_DIR, Setting

BEYOND = "beyond the thesis"  # the thesis column of an optimiser the thesis did not run
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
BEYOND_NOTE = (f"Rows marked `{BEYOND}`: optimisers the thesis did not run, here because they have a sweep spec "
               "for the task (`sweeps/<task>/<optim>.yaml`).")


@dataclasses.dataclass(frozen=True)
class Table:
    target: str  # the reproduce.py target, and the stem of the files
    title: str
    settings: tuple[Setting, ...]
    notes: tuple[str, ...]


TABLE_5_1 = Table("table_5_1", "Table 5.1: epochs until convergence", chapter5.TABLE_5_1,
                  (*CONVERGENCE_NOTES, BEYOND_NOTE))
XOR = Table("xor", "XOR (§5.3.2, Fig. 5.3): epochs until convergence", (chapter5.XOR,),
            (*CONVERGENCE_NOTES, BEYOND_NOTE))
TABLE_5_2 = Table("table_5_2", "Table 5.2: image classification (mean ± std over seeds)", chapter5.TABLE_5_2,
                  (BEYOND_NOTE,))


def thesis_column(setting: Setting, optim: str, field: str = "epochs_to_convergence") -> str:
    """The thesis's number for the cell of the setting's task (a re-run of a thesis setting shares it): the summary
    ``field`` it printed (Table 5.1 and XOR: epochs to convergence), as the optimiser's config declares it."""
    return BEYOND if setting.beyond_thesis(optim) else thesis_number(setting.task, optim, field)


def table_cells(records: Records, settings: list[Setting],
                sweeps_dir: pathlib.Path) -> Iterator[tuple[Setting, str, Records]]:
    """(setting, optimiser, its runs) for every row a table may have, in table order."""
    for setting in settings:
        for optim in setting.optimisers(sweeps_dir):
            yield setting, optim, records.cell(setting.name, optim)


def convergence_table(records: Records, settings: list[Setting],
                      sweeps_dir: pathlib.Path = SWEEPS_DIR) -> pd.DataFrame:
    """Table 5.1 / XOR (§5.3.1–5.3.2): one row per setting × optimiser that has runs."""
    rows = []
    for setting, optim, cell in table_cells(records, settings, sweeps_dir):
        if not cell.empty:
            converged = cell.converged()
            rows.append({
                "setting": setting.label, "optimiser": optim, "thesis: epochs": thesis_column(setting, optim),
                EPOCHS: epochs_column(cell),
                "ours: mean ± std (converged)": mean_std(converged.stats("epochs_to_convergence"), digits=4),
                "runs": runs_column(cell),
                "gradient evals": number(converged.stats("gradient_evals").median),
                "HVPs": number(converged.stats("hvps").median),
                "loss evals": number(converged.stats("loss_evals").median),
                "wall-clock to convergence (s)": number(converged.stats("time_to_convergence_s").median, 3),
                "config": config_column(cell)})
    return pd.DataFrame(rows)


def thesis_layout(table: pd.DataFrame) -> pd.DataFrame:
    """The thesis's own layout (optimisers × settings), each cell ``ours (thesis: …)``."""
    ours = table[EPOCHS].str.replace(r" \[.*\]", "", regex=True)
    thesis = table["thesis: epochs"].map(lambda text: BEYOND if text == BEYOND else f"thesis: {text}")
    wide = table.assign(cell=ours + " (" + thesis + ")").pivot(index="optimiser", columns="setting", values="cell")
    return wide.reindex(index=list(dict.fromkeys(table["optimiser"])),
                        columns=list(dict.fromkeys(table["setting"]))).fillna("").reset_index()


METRICS_5_2 = {"final_train_loss": "final training loss", "peak_test_acc": "peak test accuracy",
               "final_test_acc": "final test accuracy"}


def classification_table(records: Records, settings: list[Setting], not_run: dict[str, str], run_command: str,
                         sweeps_dir: pathlib.Path = SWEEPS_DIR) -> pd.DataFrame:
    """Table 5.2 (§5.3.3): mean ± std over seeds beside the thesis; settings that could not run
    here keep their thesis numbers and say why and how to run them — nothing is filled in."""
    rows = []
    for setting, optim, cell in table_cells(records, settings, sweeps_dir):
        if cell.empty and setting.name not in not_run:
            continue
        finished = cell.finished()
        row = {"model": setting.label, "optimiser": optim}
        for key, label in METRICS_5_2.items():
            row[f"ours: {label}"] = mean_std(finished.stats(key)) if not cell.empty else "not run here"
            row[f"thesis: {label}"] = thesis_column(setting, optim, key)
        if cell.empty:
            row.update({"wall-clock per epoch (s)": "—", "runs": f"not run here: {not_run[setting.name]}",
                        "config": f"run: `{run_command}`"})
        else:
            row.update({"wall-clock per epoch (s)": mean_std(per_epoch(cell, cell.column("wall_time_s"))),
                        "runs": runs_column(cell), "config": config_column(cell)})
        rows.append(row)
    return pd.DataFrame(rows)


def write(tables: list[pd.DataFrame], runs: Records, out: pathlib.Path, stem: str, title: str,
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
    runs.to_csv(paths[2])
    return paths
