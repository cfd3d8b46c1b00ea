"""The experiment suite around the ``kryball`` optimiser: one run, many runs, sweeps and the thesis reproduction.

- :func:`suite.config.compose_config` — the config ``python train.py <overrides>`` runs;
- :func:`suite.training.run` — train, evaluate and record one run (every number comes from it);
- :class:`suite.record.RunSummary`, :class:`suite.record.Status` — one run's record;
- :class:`suite.records.Records` — many runs: filter, group, seed statistics;
- :mod:`suite.sweeps` — hyperparameter sweeps (embedded Optuna engine or W&B);
- :mod:`suite.reproduction` — the thesis's tables and figures from runs;
- :mod:`suite.commands` — the programs behind ``scripts/``.

Tasks (``tasks/``) and models (``models/``) are separate packages; ``kryball`` does not import this one.
"""
