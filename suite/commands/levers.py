"""KryBall+'s candidate defaults measured on the self-tuning track: which one to ship (docs/performance.md,
"KryBall that needs no tuning").

    python scripts/levers.py run adaptive_krylov [--jobs 2] [--quick]   # its KryBall+ cells of the track
    python scripts/levers.py run shipped [--jobs 2]                     # the shipped KryBall+'s, again, beside them
    python scripts/levers.py report                                     # every lever run so far, against the rest

A *lever* is a set of overrides of ``optim=kryball_plus`` (:data:`LEVERS`: each with why it is a
candidate, and the workloads it changes: all of them, or only those whose loss is least squares).
``run`` runs the self-tuning track's KryBall+ cells — every workload the lever changes, its budget,
its seeds — with the lever's overrides, into ``OUT/<lever>/`` (``scripts/reproduce.py comparison
--track self_tuning --only <setting>/kryball_plus``, the lever's overrides added to every run), so its
per-run results are the track's, under the lever's folder. ``report`` then puts each lever's KryBall+
in the place of the shipped one among the track's committed per-run results (``conf/tuned/comparison/
self_tuning/``, every other optimiser as it ran; on a workload the lever does not change, the shipped
KryBall+'s runs) and scores it as the track scores every optimiser:
the low-median wall-clock to target per workload, its ratio to the fastest other optimiser's, and
AlgoPerf's benchmark score B (``suite.reproduction.profiles``). The lever with the highest B that still
converges on every Table 5.1 problem and XOR is the one to ship; ``shipped`` is KryBall+ as it is.

Wall-clock drifts between sessions on a shared machine, so ``run shipped`` re-runs the shipped KryBall+'s cells
into ``OUT/shipped/``; ``report`` then scores that re-run as ``shipped`` and stands it in where a lever changes
nothing, so that the levers are compared with KryBall+ timed in the same session as they were (the other
optimisers' times stay the track's).
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import pathlib
import sys

import pandas as pd
from hydra.utils import get_class

from suite import comparison_results
from suite.config import REPO, compose_config, shown
from suite.reproduction import per_run, profiles
from suite.reproduction.comparison_settings import SELF_TUNING, Workload
from suite.reproduction.targets import MEASURES

OUT = REPO / "outputs" / "levers"
KRYBALL_PLUS = "kryball_plus"


@dataclasses.dataclass(frozen=True)
class Lever:
    """Overrides of optim=kryball_plus, why they are a candidate, and whether they apply to least-squares workloads
    only (a loss made of residuals: ``Task.least_squares``, tasks/base.py) — elsewhere KryBall+ stays as shipped."""

    overrides: tuple[str, ...]
    why: str
    least_squares_only: bool = False

    def changes(self, workload: Workload) -> bool:
        """Whether the lever changes KryBall+ on ``workload``."""
        return not self.least_squares_only or is_least_squares(workload)


@functools.cache  # composing a config takes a while, and each lever asks of every workload
def is_least_squares(workload: Workload) -> bool:
    """Whether a workload's task gives residuals (its config's task class says: ``least_squares``)."""
    cfg = compose_config(list(workload.setting.overrides))
    return bool(getattr(get_class(cfg.task._target_), "least_squares", False))


# The candidates, by name (docs/performance.md).
LEVERS: dict[str, Lever] = {
    "shipped": Lever((), "KryBall+ as conf/optim/kryball_plus.yaml ships it"),
    "adaptive_krylov": Lever(("optim.krylov_tol=0.2", "optim.krylov_dim=20"),
                             "an adaptive Krylov dimension (krylov_tol), up to 20 vectors: thesis §5.5.3"),
    # KryBall+ ships Gauss–Newton curvature where the loss is least squares (curvature: auto): this lever is the
    # Hessian there, as KryBall+ shipped before it (docs/performance.md).
    "hessian": Lever(("optim.curvature=hessian",),
                     "the Hessian's curvature where the loss is least squares too (the thesis's; KryBall+'s until "
                     "Gauss–Newton won there)", least_squares_only=True),
}


def lever_results(lever: str, out: pathlib.Path, quick: bool) -> pathlib.Path:
    """Where a lever's per-run results are: the comparison writes them under its --out."""
    return out / lever / "per_run" / ("quick" if quick else "full")


def run(lever: str, args: argparse.Namespace) -> int:
    """The self-tuning track's KryBall+ cells with the lever's overrides (through reproduce.py); ``shipped``: with
    none, a re-run beside the levers'."""
    from suite.commands import reproduce
    chosen = LEVERS[lever]
    argv = ["comparison", "--track", SELF_TUNING.name, "--out", str(args.out / lever), "--jobs", str(args.jobs),
            *(["--quick"] if args.quick else []),
            *(f"--only={w.setting.name}/{KRYBALL_PLUS}" for w in SELF_TUNING.workloads if chosen.changes(w)),
            *(f"--set={override}" for override in chosen.overrides)]
    return reproduce.main(argv)


def lever_times(lever: str, out: pathlib.Path, quick: bool) -> pd.DataFrame | None:
    """The lever's KryBall+ runs' times to target, from its per-run results (None if it has not run)."""
    try:
        measured = per_run.load(SELF_TUNING, lever_results(lever, out, quick))
    except comparison_results.FormatError:
        return None
    return measured.times[measured.times["optimiser"] == KRYBALL_PLUS]


def scores(others: pd.DataFrame, mine: pd.DataFrame, measure: str = "wall_time_s") -> tuple[pd.DataFrame, float]:
    """Per workload KryBall+'s low-median time to target (wall-clock, or another of ``targets.MEASURES``) and its
    ratio to the fastest other optimiser's there, and its B among all of them."""
    times = pd.concat([others, mine], ignore_index=True)
    t = profiles.task_times(times, measure)
    r = profiles.ratios(t)
    rows = []
    for task in t.index:
        other = t.loc[task].drop(KRYBALL_PLUS).dropna()
        best = other.idxmin() if len(other) else None
        converged = mine[mine["task"] == task]
        rows.append({"workload": task, "KryBall+ (s)": t.loc[task, KRYBALL_PLUS],
                     "reached": f"{int(converged['reached'].sum())}/{len(converged)}",
                     "fastest other (s)": other.min() if len(other) else math.nan, "fastest other": best,
                     "ratio r": r.loc[task, KRYBALL_PLUS]})
    return pd.DataFrame(rows), float(profiles.score(r)[KRYBALL_PLUS])


def where_changed(lever: Lever, mine: pd.DataFrame, shipped: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The lever's KryBall+ times on the workloads it changes and the shipped KryBall+'s on the others (their labels,
    the times' ``task``), and those others."""
    unchanged = [w.label for w in SELF_TUNING.workloads if not lever.changes(w)]
    return (pd.concat([mine[~mine["task"].isin(unchanged)], shipped[shipped["task"].isin(unchanged)]],
                      ignore_index=True), unchanged)


def report(args: argparse.Namespace) -> int:
    committed = per_run.load(SELF_TUNING, args.results_dir)
    others = committed.times[committed.times["optimiser"] != KRYBALL_PLUS]
    tables = []
    rerun = lever_times("shipped", args.out, args.quick)
    shipped = committed.times[committed.times["optimiser"] == KRYBALL_PLUS] if rerun is None else rerun
    source = "the track's committed runs" if rerun is None else "its re-run (python scripts/levers.py run shipped)"
    print(f"shipped KryBall+: {source}")
    for name, lever in LEVERS.items():
        mine = shipped if name == "shipped" else lever_times(name, args.out, args.quick)
        if mine is None or mine.empty:
            print(f"{name}: no runs yet (python scripts/levers.py run {name})")
            continue
        mine, unchanged = where_changed(lever, mine, shipped)
        table, b = scores(others, mine)
        # Wall-clock drifts between sessions; gradient-equivalents and epochs do not: B by each.
        by_count = ", ".join(f"{scores(others, mine, measure)[1]:.2f} by {MEASURES[measure]}"
                             for measure in MEASURES if measure != "wall_time_s")
        where = f"; as shipped on {', '.join(unchanged)}" if unchanged else ""
        tables.append(f"### {name}: B = {b:.2f}\n\nB = {b:.2f} by wall-clock, {by_count}. {lever.why}; overrides: "
                      f"{' '.join(lever.overrides) or 'none'}{where}\n\n" + table.to_markdown(index=False, floatfmt=".3g"))
    text = "\n\n".join(tables)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"levers{'.quick' if args.quick else ''}.md"
    path.write_text(f"# KryBall+'s candidate defaults on the self-tuning track\n\n{text}\n")
    print(text)
    print(f"\nwrote {shown(path)}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("run", "report"))
    p.add_argument("lever", nargs="?", choices=tuple(LEVERS), help="run: the lever (see LEVERS in this module)")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=pathlib.Path, default=OUT)
    p.add_argument("--results-dir", type=pathlib.Path, default=comparison_results.FOLDER,
                   help="the track's committed per-run results (default: conf/tuned/comparison)")
    args = p.parse_args(argv)
    if args.command == "run":
        if args.lever is None:
            p.error("run needs a lever")
        return run(args.lever, args)
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
