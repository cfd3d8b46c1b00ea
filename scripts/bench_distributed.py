"""Time a KryBall step on one process and on several (data parallel, gloo), and the share spent in collectives.

    python scripts/bench_distributed.py                         # MNIST-1D MLP, batch 512: 1 and 2 processes
    python scripts/bench_distributed.py --processes 1 2 4 --steps 50 --out bench_distributed.csv

What it measures and how: suite/commands/bench_distributed.py; the numbers and what they say for
multi-GPU nodes: docs/performance.md ("Data parallelism").
"""

import sys

from suite.commands.bench_distributed import main

if __name__ == "__main__":
    sys.exit(main())
