"""Time one optimiser step on a task's model, beside the cost floor it cannot beat (thesis §5.5.5).

    python scripts/bench_step.py                                   # MNIST-1D MLP on the CPU
    python scripts/bench_step.py --task cifar10_resnet --device cuda --out resnet.csv

One fixed synthetic batch of the task's input shape and batch size (no dataset needed),
the model built from the suite's own config. In the same run it measures one
gradient (plain, and with the graph that Hessian-vector products need), one HVP and
one forward pass; an optimiser's floor is its gradient + HVPs/step × HVP + extra
forwards/step × forward, and ``overhead_vs_floor`` is its step time over that floor.
A KryBall step's cost depends on where it is in its refresh cycle, so its step time
is the median over whole cycles of the mean step time in a cycle.
"""

import sys

from suite.commands.bench_step import main

if __name__ == "__main__":
    sys.exit(main())
