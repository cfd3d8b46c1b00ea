"""`python scripts/gpu_report.py OUT` (on a CUDA machine) or `python scripts/gpu_report.py --quick OUT` (the CPU
rehearsal); the command is :mod:`suite.commands.gpu_report` (its docstring says what it measures), and
docs/performance.md ("A GPU report in one command") where its reports go.
"""

import sys

from suite.commands.gpu_report import main

if __name__ == "__main__":
    sys.exit(main())
