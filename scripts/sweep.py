"""Hyperparameter sweeps, one spec per task x optimiser (``sweeps/<task>/<optim>.yaml``, W&B's
format), tuned by a protocol (docs/sweeps.md).

    python scripts/sweep.py sweeps/mnist1d/adam.yaml                         # default protocol
    python scripts/sweep.py sweeps/mnist1d/adam.yaml --workers 2             # 2 processes
    python scripts/sweep.py sweeps/xor/kryball.yaml --protocol thesis        # thesis §5.2.5, exactly
    python scripts/sweep.py sweeps/xor/kryball.yaml --protocol thesis --backend wandb
    python scripts/sweep.py sweeps/xor/kryball.yaml --trials 3 epochs=5      # + Hydra overrides
    python scripts/sweep.py sweeps/mnist1d/kryball.yaml --workers 4 --executor submitit_slurm   # SLURM jobs

The default protocol runs the optimiser's defaults first, searches, re-runs the best settings on
further seeds and takes the best mean; ``--protocol thesis`` runs the thesis's Hyperband sweep on
one seed. Every trial is an ordinary ``train.py`` run; the result is written to
``conf/tuned/<task>_<optim>.yaml`` with its per-seed results beside it, unless that would replace
a committed result it did not beat (then under the study's own name). A bad spec is refused
before any trial starts (exit 2).
"""

import sys

from suite.commands.sweep import main

if __name__ == "__main__":
    sys.exit(main())
