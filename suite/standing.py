"""Where a run stands: what the tuned optimisers of the same task and budget reached.

After every run ``train.py`` prints, beside the run's own numbers, what the committed results of
the default tuning protocol (``conf/tuned/<task>_<optim>.results.json``, docs/sweeps.md "The
results file") say the tuned optimisers reach on the same task config and budget, seed by seed —
read, never run. A results file counts when its runs had the same resolved ``task`` config and the
same number of epochs as this run; nothing is printed when no file does.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import statistics

from .record import RunSummary
from .reproduction import registry
from .sweeps import results as results_mod
from .sweeps.tuned import TUNED_DIR

ROBUST = "robust"  # the default protocol: selection on validation, re-runs on further seeds


@dataclasses.dataclass(frozen=True)
class Tuned:
    """One optimiser's committed tuned result: its name and its re-run seeds' summaries."""

    optim: str
    use: str
    seeds: list[dict]


def tuned_results(task: dict, epochs: int, tuned_dir: pathlib.Path = TUNED_DIR) -> list[Tuned]:
    """The default protocol's committed results whose runs trained on ``task`` for ``epochs`` epochs."""
    found = []
    for path in sorted(pathlib.Path(tuned_dir).glob(f"*{results_mod.SUFFIX}")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        setting = data.get("setting") or {}
        if data.get("protocol") == ROBUST and setting.get("task") == task and setting.get("epochs") == epochs:
            optim = pathlib.Path(data.get("spec", "")).stem
            found.append(Tuned(optim, data.get("use") or "", list(data.get("seeds") or [])))
    return found


def _spread(values: list[float], digits: int = 3) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def _reached(entry: Tuned, field: str) -> str | None:
    """The tuned optimiser's seeds' ``field`` as ``mean ± std`` (or, for epochs to convergence, how
    many converged and their median), None when its seeds hold no such number."""
    values = [seed[field] for seed in entry.seeds if isinstance(seed.get(field), (int, float))]
    if field == "epochs_to_convergence":
        if not entry.seeds:
            return None
        median = f" in {statistics.median(values):g} epochs (median)" if values else ""
        return f"{registry.label(entry.optim)} {len(values)}/{len(entry.seeds)} converged{median}"
    return f"{registry.label(entry.optim)} {_spread(values)}" if values else None


def standing_lines(summary: RunSummary, tuned_dir: pathlib.Path = TUNED_DIR) -> list[str]:
    """One or two lines placing ``summary`` beside the committed tuned results (none: an empty list)."""
    config = summary.config or {}
    if "task" not in config or "epochs" not in config:
        return []
    others = [t for t in tuned_results(config["task"], config["epochs"], tuned_dir) if t.optim != summary.optim]
    if not others:
        return []
    if summary.final_test_acc is not None:
        field, what, mine = "final_test_acc", "final test accuracy", f"{summary.final_test_acc:.3f}"
    else:
        field, what = "epochs_to_convergence", "convergence"
        mine = (f"converged in {summary.epochs_to_convergence} epochs" if summary.epochs_to_convergence is not None
                else "did not converge")
    reached = [text for t in others if (text := _reached(t, field))]
    if not reached:
        return []
    seeds = max(len(t.seeds) for t in others)
    return [f"  where it stands ({what}; this run: {mine}): tuned on this task and budget, over "
            f"{seeds} seeds each (conf/tuned/*.results.json) — {'; '.join(reached)}"]
