"""`python scripts/bench_step.py --help`; the command is :mod:`suite.commands.bench_step` (its docstring says what it does)."""

import sys

from suite.commands.bench_step import main

if __name__ == "__main__":
    sys.exit(main())
