"""Gather the run records (``summary.json``) under some folders into one table.

    python scripts/collect_runs.py outputs/multirun/reuse_curvature_mnist1d --by optim.reuse_curvature
    python scripts/collect_runs.py outputs/runs --by task optim --out runs.csv
    python scripts/collect_runs.py outputs/multirun/a outputs/multirun/b --by optim --reach val_acc=0.695 --plot r.png

Every run is one row; ``--by`` groups them (any summary field or dotted config key) and prints,
per group, the number of runs, how they ended, and median / mean ± std (with the 95 % confidence
interval) of the numeric outcomes. ``--reach METRIC=VALUE`` prints instead when each group's runs
first reached that value of a metrics column, in epochs, wall-clock and gradient-equivalents
(``suite.reach``), and ``--plot`` draws those curves. Runs are read, never re-run (``suite.records``).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from suite import reach
from suite.records import Records, summarise
from suite.run_record import OUTCOMES


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", type=pathlib.Path)
    p.add_argument("--by", nargs="+", default=["task", "optim"], help="summary fields or dotted config keys")
    p.add_argument("--show", nargs="+", choices=OUTCOMES, default=list(OUTCOMES), metavar="FIELD",
                   help=f"outcomes to aggregate (default all of: {' '.join(OUTCOMES)})")
    p.add_argument("--out", type=pathlib.Path, help="also write the per-run rows as CSV")
    p.add_argument("--reach", metavar="METRIC=VALUE",
                   help=f"time to a value of a metrics column ({', '.join(reach.CURVES)}) instead of the outcomes")
    p.add_argument("--plot", type=pathlib.Path, help="with --reach: a PNG of the metric against wall-clock and "
                                                     "gradient-equivalents")
    args = p.parse_args(argv)
    if args.plot and not args.reach:
        p.error("--plot draws the curves of --reach: give --reach METRIC=VALUE too")
    try:
        target = reach.parse(args.reach) if args.reach else None
    except ValueError as error:
        p.error(str(error))
    missing = [str(f) for f in args.folders if not f.is_dir()]
    if missing:
        print(f"error: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    runs = Records.load(args.folders, args.by)
    if runs.empty:
        print(f"error: no summary.json below {', '.join(map(str, args.folders))}", file=sys.stderr)
        return 2
    if args.out:
        runs.to_csv(args.out)
    if target is None:
        print(summarise(runs, args.by, args.show).to_markdown(index=False))
        return 0
    print(reach.reach_table(runs, args.by, *target).to_markdown(index=False))
    if args.plot:
        print(f"figure: {reach.plot_reach(runs, args.by, *target, args.plot)}")
    return 0

