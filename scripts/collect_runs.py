"""Gather the run records (``summary.json``) under some folders into one table.

    python scripts/collect_runs.py outputs/multirun/reuse_curvature_mnist1d --by optim.reuse_curvature
    python scripts/collect_runs.py outputs/runs --by task optim --out runs.csv

Every run is one row; ``--by`` groups them (any summary field or dotted config key) and prints,
per group, the number of runs, how they ended, and median / mean ± std (with the 95 % confidence
interval) of the numeric outcomes. Runs are read, never re-run (``suite.records``).
"""

import sys

from suite.commands.collect_runs import main

if __name__ == "__main__":
    sys.exit(main())
