"""`python scripts/sweep.py --help`; the command is :mod:`suite.commands.sweep` (its docstring says what it does)."""

import sys

from suite.commands.sweep import main

if __name__ == "__main__":
    sys.exit(main())
