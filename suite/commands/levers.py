"""KryBall+'s candidate defaults measured on the self-tuning track: which one to ship (docs/performance.md,
"KryBall that needs no tuning").

    python scripts/levers.py run adaptive_krylov [--jobs 2] [--quick]   # its KryBall+ cells of the track
    python scripts/levers.py report                                     # every lever run so far, against the rest

A *lever* is a set of overrides of ``optim=kryball_plus`` (:data:`LEVERS`: each with why it is a
candidate). ``run`` runs the self-tuning track's KryBall+ cells — every workload, its budget, its
seeds — with the lever's overrides, into ``OUT/<lever>/`` (``scripts/reproduce.py comparison --track
self_tuning --only <setting>/kryball_plus``, the lever's overrides added to every run), so its per-run
results are the track's, under the lever's folder. ``report`` then puts each lever's KryBall+ in the
place of the shipped one among the track's committed per-run results (``conf/tuned/comparison/
self_tuning/``, every other optimiser as it ran) and scores it as the track scores every optimiser:
the low-median wall-clock to target per workload, its ratio to the fastest other optimiser's, and
AlgoPerf's benchmark score B (``suite.reproduction.profiles``). The lever with the highest B that still
converges on every Table 5.1 problem and XOR is the one to ship; ``shipped`` is KryBall+ as it is.
"""
from __future__ import annotations

import argparse
import math
import pathlib
import sys

import pandas as pd

from suite import comparison_results
from suite.config import REPO, shown
from suite.reproduction import per_run, profiles
from suite.reproduction.comparison_settings import SELF_TUNING

OUT = REPO / "outputs" / "levers"
KRYBALL_PLUS = "kryball_plus"

# The candidates, by name: overrides of optim=kryball_plus, and why each is one (docs/performance.md).
LEVERS: dict[str, tuple[tuple[str, ...], str]] = {
    "shipped": ((), "KryBall+ as conf/optim/kryball_plus.yaml ships it"),
    "adaptive_krylov": (("optim.krylov_tol=0.2", "optim.krylov_dim=20"),
                        "an adaptive Krylov dimension (krylov_tol), up to 20 vectors: thesis §5.5.3"),
    "interleave": (("optim.interleave=3", "optim.first_order=adam"),
                   "two Adam-direction steps as long as the trust radius between KryBall+ steps: thesis §6.2.1"),
}


def lever_results(lever: str, out: pathlib.Path, quick: bool) -> pathlib.Path:
    """Where a lever's per-run results are: the comparison writes them under its --out."""
    return out / lever / "per_run" / ("quick" if quick else "full")


def run(lever: str, args: argparse.Namespace) -> int:
    """The self-tuning track's KryBall+ cells with the lever's overrides (through reproduce.py)."""
    from suite.commands import reproduce
    overrides, _ = LEVERS[lever]
    argv = ["comparison", "--track", SELF_TUNING.name, "--out", str(args.out / lever), "--jobs", str(args.jobs),
            *(["--quick"] if args.quick else []),
            *(f"--only={w.setting.name}/{KRYBALL_PLUS}" for w in SELF_TUNING.workloads),
            *(f"--set={override}" for override in overrides)]
    return reproduce.main(argv)


def lever_times(lever: str, out: pathlib.Path, quick: bool) -> pd.DataFrame | None:
    """The lever's KryBall+ runs' times to target, from its per-run results (None if it has not run)."""
    try:
        measured = per_run.load(SELF_TUNING, lever_results(lever, out, quick))
    except comparison_results.FormatError:
        return None
    return measured.times[measured.times["optimiser"] == KRYBALL_PLUS]


def scores(others: pd.DataFrame, mine: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Per workload KryBall+'s low-median wall-clock to target and its ratio to the fastest other optimiser's
    there, and its B among all of them."""
    times = pd.concat([others, mine], ignore_index=True)
    t = profiles.task_times(times, "wall_time_s")
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


def report(args: argparse.Namespace) -> int:
    committed = per_run.load(SELF_TUNING, args.results_dir)
    others = committed.times[committed.times["optimiser"] != KRYBALL_PLUS]
    tables = []
    for lever, (overrides, why) in LEVERS.items():
        mine = (committed.times[committed.times["optimiser"] == KRYBALL_PLUS] if lever == "shipped"
                else lever_times(lever, args.out, args.quick))
        if mine is None or mine.empty:
            print(f"{lever}: no runs yet (python scripts/levers.py run {lever})")
            continue
        table, b = scores(others, mine)
        tables.append(f"### {lever}: B = {b:.2f}\n\n{why}; overrides: {' '.join(overrides) or 'none'}\n\n"
                      + table.to_markdown(index=False, floatfmt=".3g"))
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
        if args.lever in (None, "shipped"):
            p.error("run needs a lever other than shipped (its runs are the track's own)")
        return run(args.lever, args)
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
