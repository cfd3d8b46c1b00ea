"""The experiment suite around the ``kryball`` optimiser: one run, many runs, sweeps and the thesis reproduction.

- :func:`suite.config.compose_config` — the config ``python train.py <overrides>`` runs;
- :func:`suite.training.run` — train, evaluate and record one run (every number comes from it);
- :class:`suite.run_record.RunSummary`, :class:`suite.run_record.RunStatus` — one run's record;
- :class:`suite.records.Records` — many runs: filter, group, seed statistics;
- :mod:`suite.sweeps` — hyperparameter sweeps (embedded Optuna engine or W&B);
- :mod:`suite.reproduction` — the thesis's tables and figures from runs;
- :mod:`suite.optimisers` — an ``optim=`` config → its optimiser, and how reports show it (``presentation``);
- :mod:`suite.commands` — the programs behind ``scripts/`` and the console scripts (``kryball-sweep`` …).

Tasks (``tasks/``) and models (``models/``) are separate packages below this one: they import only its leaf
:class:`suite.errors.ConfigError`; ``kryball`` does not import it at all.
"""

import warnings

# conf/hydra/launcher/submitit_*.yaml are named as the plugin's schemas on purpose (hydra/launcher=submitit_local
# picks ours), so Hydra validates them against those schemas, and says that this matching is deprecated. Ours set
# every key themselves and load the same without it. Filtered here, on import of the suite, so that every process
# that composes the config filters it: train.py and each launcher job, which loads its sweep config after
# unpickling train.py's task function and, with it, this package.
warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema with the same name")
