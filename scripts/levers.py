"""`python scripts/levers.py --help`; the command is :mod:`suite.commands.levers` (its docstring says what it does)."""

import sys

from suite.commands.levers import main

if __name__ == "__main__":
    sys.exit(main())
