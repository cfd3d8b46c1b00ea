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

import importlib.util
import warnings

# The top-level packages the suite imports, all of the extra "suite" (pyproject.toml): kryball's own dependencies are
# torch and NumPy alone, so that the library installs alone. Checked here, on import of the suite (tasks/ imports it
# too), so that an install without the extra fails in one line that names the fix, not in a ModuleNotFoundError deep
# in whichever module happened to import one first. find_spec imports nothing.
_EXTRA_MODULES = ("hydra", "omegaconf", "yaml", "pandas", "scipy", "optuna", "sqlalchemy", "submitit",
                  "pytorch_optimizer", "matplotlib", "sklearn", "torchvision", "mnist1d", "tqdm")
_missing = [name for name in _EXTRA_MODULES if importlib.util.find_spec(name) is None]
if _missing:
    raise ImportError(f'the KryBall suite needs its extra: pip install -e ".[suite]" (missing: {", ".join(_missing)})')
del _missing

# conf/hydra/launcher/submitit_*.yaml are named as the plugin's schemas on purpose (hydra/launcher=submitit_local
# picks ours), so Hydra validates them against those schemas, and says that this matching is deprecated. Ours set
# every key themselves and load the same without it. Filtered here, on import of the suite, so that every process
# that composes the config filters it: train.py and each launcher job, which loads its sweep config after
# unpickling train.py's task function and, with it, this package.
warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema with the same name")
