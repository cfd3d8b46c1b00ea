"""Hyperparameter sweeps of thesis §5.2.5: Bayesian search + Hyperband, one spec per
task x optimiser (``sweeps/<task>/<optim>.yaml``, W&B's format).

    python scripts/sweep.py sweeps/xor/kryball.yaml --trials 20              # embedded engine
    python scripts/sweep.py sweeps/xor/kryball.yaml --workers 2              # 2 processes
    python scripts/sweep.py sweeps/xor/kryball.yaml --storage postgresql://u:p@host/db
    python scripts/sweep.py sweeps/xor/kryball.yaml --backend wandb          # W&B agent
    python scripts/sweep.py sweeps/xor/kryball.yaml --trials 3 epochs=5      # + Hydra overrides

Every trial is an ordinary ``train.py`` run; the best configuration is written to
``conf/tuned/<task>_<optim>.yaml``. A bad spec is refused before any trial starts (exit 2).
"""

import sys

from suite.commands.sweep import main

if __name__ == "__main__":
    sys.exit(main())
