"""Where a run stands: what the other optimisers reach on the same task, read (never run) from the
comparison's committed per-run results of the track that matches how the run was configured
(``suite/comparison_results.py``; docs/results.md, "The comparison protocol"):

- a run at its optimiser's defaults (no ``+tuned=``) — what a user without a tuning budget gets — against
  the **self-tuning** track: every optimiser at its defaults on the same task (the same resolved ``task``
  config), for that track's wall-clock budget;
- a ``+tuned=`` run against the **tuned** track: every optimiser tuned for the same task and epoch budget.
  Until the tuned track's per-run results are published, against the default tuning protocol's results
  files instead (``conf/tuned/<task>_<optim>.results.json``, docs/sweeps.md "The results file": their
  re-run seeds), as the line says.

Each other optimiser's runs are summarised as the mean ± 95 % confidence interval over its seeds of the task's
final metric (:data:`PLACED_BY`: the test accuracy, a physics-informed task's L2 relative error, image fitting's
PSNR), or, on a task with none of them, how many converged and their median epochs to convergence. Nothing is
printed when no results match.
"""

from __future__ import annotations

import dataclasses
import pathlib
import statistics

from . import comparison_results
from .config import REPO
from .optimisers.presentation import label
from .records import SeedStats
from .run_record import FINAL, RunSummary
from .sweeps import tuned_results
from .sweeps.tuned import TUNED_DIR

ROBUST = "robust"  # the default protocol: selection on validation, re-runs on further seeds
# The summary field a run is placed by, the first of these its summary has (a task records one), and its name.
PLACED_BY = {"final_test_acc": "final test accuracy", "final_l2_relative_error": "final L2 relative error",
             "final_test_psnr": "final test PSNR (dB)"}


@dataclasses.dataclass(frozen=True)
class Others:
    """One other optimiser's runs on the task: its name and its runs' final numbers (summary fields)."""

    optim: str
    seeds: list[dict]


@dataclasses.dataclass(frozen=True)
class Found:
    """The runs a line is drawn from and how to name them."""

    others: list[Others]
    source: str  # e.g. "self-tuning track (every optimiser at its defaults, 30 s of training each)"
    where: str  # the file(s)


def sweeps_results(task: dict, epochs: int, tuned_dir: pathlib.Path = TUNED_DIR) -> list[Others]:
    """The default protocol's committed results whose runs trained on ``task`` for ``epochs`` epochs."""
    found = []
    for path in sorted(pathlib.Path(tuned_dir).glob(f"*{tuned_results.SUFFIX}")):
        results = tuned_results.read(path)
        if results is None or results.protocol != ROBUST or results.setting != tuned_results.TrainedOn(task, epochs):
            continue
        found.append(Others(results.optim, [dataclasses.asdict(seed) for seed in results.seeds]))
    return found


def comparison_runs(track: str, task: dict, epochs: int,
                    folder: pathlib.Path = comparison_results.FOLDER) -> tuple[list[Others], dict] | None:
    """The track's published runs of the workload that trained on ``task`` (and, on the tuned track, for
    ``epochs`` epochs), grouped by optimiser, with the workload's index entry; None when none matches."""
    for name, entry in comparison_results.read_index(folder, track).items():
        if entry.get("task") != task or (track == comparison_results.TUNED and entry.get("epochs") != epochs):
            continue
        path = comparison_results.path(folder, track, name)
        try:
            rows = comparison_results.read(path)
        except (OSError, comparison_results.FormatError):
            return None
        by_optim: dict[str, list[dict]] = {}
        for row in rows:
            if row["status"] in {status.value for status in FINAL}:
                by_optim.setdefault(row["optimiser"], []).append(row)
        return [Others(optim, seeds) for optim, seeds in by_optim.items()], {**entry, "file": path}
    return None


def find(summary: RunSummary, track: str, tuned_dir: pathlib.Path = TUNED_DIR,
         folder: pathlib.Path = comparison_results.FOLDER) -> Found | None:
    """The runs the line for ``summary`` is drawn from, on ``track`` (module docstring)."""
    config = summary.config or {}
    if "task" not in config or "epochs" not in config:
        return None
    published = comparison_runs(track, config["task"], config["epochs"], folder)
    if published is not None:
        others, entry = published
        seconds = entry.get("time_budget_s")
        if track == comparison_results.TUNED:  # an epoch budget, perhaps capped in seconds
            budget = f"{entry.get('epochs')} epochs each" + (f", at most {seconds:g} s" if seconds else "")
        else:
            budget = f"{seconds:g} s of training each" if seconds else f"{entry.get('epochs')} epochs each"
        what = ("tuned track (every optimiser tuned for this task" if track == comparison_results.TUNED
                else "self-tuning track (every optimiser at its defaults")
        where = pathlib.Path(entry["file"])
        where = where.relative_to(REPO) if where.is_relative_to(REPO) else where
        return Found(others, f"{what}, {budget})", str(where))
    if track == comparison_results.TUNED:
        others = sweeps_results(config["task"], config["epochs"], tuned_dir)
        return Found(others, "tuned on this task and budget, re-run seeds of the sweeps", "conf/tuned/*.results.json")
    return None


def _number(value: float) -> str:
    """Three decimals where they show the value (accuracies, errors near 1), else three significant digits: an
    error of 3e-4, or a diverged run's 5e+97, would read 0.000 or as a hundred digits."""
    return f"{value:.3f}" if 1e-2 <= abs(value) < 1e4 else f"{value:.3g}"


def _reached(entry: Others, field: str) -> str | None:
    """The optimiser's runs' ``field`` as ``mean ± 95 % CI`` (or, for epochs to convergence, how many
    converged and their median), None when its runs hold no such number."""
    if field == "epochs_to_convergence":
        if not entry.seeds:
            return None
        values = [seed[field] for seed in entry.seeds if isinstance(seed.get(field), (int, float))]
        median = f" in {statistics.median(values):g} epochs (median)" if values else ""
        return f"{label(entry.optim)} {len(values)}/{len(entry.seeds)} converged{median}"
    stats = SeedStats.of(seed.get(field) for seed in entry.seeds)
    if not stats.n:
        return None
    spread = f" ± {_number(stats.ci95)}" if stats.n > 1 else ""
    return f"{label(entry.optim)} {_number(stats.mean)}{spread}"


def standing_lines(summary: RunSummary, track: str = comparison_results.SELF_TUNING,
                   tuned_dir: pathlib.Path = TUNED_DIR, folder: pathlib.Path = comparison_results.FOLDER) -> list[str]:
    """One line placing ``summary`` beside the other optimisers of ``track`` (none: an empty list). ``track``:
    ``tuned`` for a ``+tuned=`` run, ``self_tuning`` for one at its optimiser's defaults (``train.py`` decides)."""
    if track not in comparison_results.TRACKS:
        raise ValueError(f"track must be one of {', '.join(comparison_results.TRACKS)}, got {track!r}")
    found = find(summary, track, tuned_dir, folder)
    others = [o for o in found.others if o.optim != summary.optim] if found else []
    if not others:
        return []
    field = next((field for field in PLACED_BY if getattr(summary, field) is not None), None)
    if field is not None:
        what, mine = f"{PLACED_BY[field]}, mean ± 95 % CI", _number(getattr(summary, field))
    else:
        field, what = "epochs_to_convergence", "convergence"
        mine = (f"converged in {summary.epochs_to_convergence} epochs" if summary.epochs_to_convergence is not None
                else "did not converge")
    reached = [text for o in others if (text := _reached(o, field))]
    if not reached:
        return []
    seeds = sorted({len(o.seeds) for o in others})
    count = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}"
    return [f"  where it stands ({what}; this run: {mine}): {found.source}, over {count} seeds each "
            f"({found.where}) — {'; '.join(reached)}"]
