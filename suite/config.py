"""The suite's config: composing it as ``train.py`` does, and checking it before anything runs.

:func:`compose_config` gives the config ``python train.py <overrides>`` would run, for scripts and
tests. :func:`check_config` fails early with one line naming the key: ``train.py`` catches
:class:`ConfigError` and prints ``error: <key>: <message>`` to stderr with exit code 2 and no
traceback. Group choices (``task=``, ``optim=``…) are Hydra's to check: it lists the available
options itself.
"""

import inspect
import math
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import ConfigError  # raised here, and by tasks and models from the leaf module itself

# The suite is installed from its checkout (pip install -e ".[suite]"): the Hydra config tree, the sweep
# specs and outputs/ are beside the package.
REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"


def compose_config(overrides: list[str], config_dir: Path = CONF_DIR) -> DictConfig:
    """The config ``python train.py <overrides>`` runs, for scripts and tests (no Hydra run directory). Inside a
    Hydra app (``train.py``'s closing line reads optimisers' labels from their configs) the app's own Hydra is
    set aside meanwhile and restored after."""
    outer = GlobalHydra.instance().hydra
    GlobalHydra.instance().clear()  # compose may run many times in one process
    try:
        with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))
    finally:
        if outer is not None:
            GlobalHydra.instance().initialize(outer)


def shown(path: str | Path) -> str:
    """A path as the suite prints it: relative to the working directory where it lies below it, else absolute — a
    path the user can use from where they stand (committed files name paths relative to the repository
    instead: ``suite.sweeps.backend.repo_relative``)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# key → (test, what the value must be); a key absent from the config is not checked.
RULES = {
    "seed": (_is_int, "must be an integer"),
    "epochs": (lambda v: _is_int(v) and v >= 1, "must be an integer ≥ 1"),
    "time_budget_s": (lambda v: _is_number(v) and v > 0, "must be a number of seconds > 0, or null for no budget"),
    "device": (lambda v: v in ("auto", "cpu", "cuda"), "must be auto, cpu or cuda"),
    "dtype": (lambda v: v in ("float32", "float64"), "must be float32 or float64"),
    "threads": (lambda v: _is_int(v) and v >= 1, "must be an integer ≥ 1 (or null for the default rule: docs/suite.md, \"Threads\")"),
    "task.batch_size": (lambda v: _is_int(v) and v >= 1, "must be an integer ≥ 1"),
    "task.num_samples": (lambda v: _is_int(v) and v >= 1, "must be an integer ≥ 1"),
    "task.condition_number": (lambda v: _is_number(v) and v >= 1, "must be a number ≥ 1"),
    "task.noise_low": (_is_number, "must be a number"),
    "task.noise_high": (_is_number, "must be a number"),
    "task.tolerance": (lambda v: _is_number(v) and v > 0, "must be a number > 0"),
    "optim.lr": (lambda v: _is_number(v) and v > 0, "must be a number > 0"),
    "optim.krylov_dim": (lambda v: _is_int(v) and v >= 1, "must be an integer ≥ 1"),
    "optim.refresh": (lambda v: _is_int(v) and v >= 1, "must be an integer ≥ 1"),
    "optim.momentum": (lambda v: _is_number(v) and 0 <= v < 1, "must be in [0, 1)"),
    "optim.max_iter": (lambda v: _is_int(v) and v >= 1, "must be an integer ≥ 1"),
}


def check_config(cfg: DictConfig) -> None:
    """Raise ConfigError for the first out-of-range value (optimisers check the rest themselves)."""
    try:  # a missing value: typically a model that does not fit the task (task=xor model=cnn)
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as error:
        raise ConfigError(error.full_key or "config", f"{str(error.msg).splitlines()[0]} "
                          "(does the model fit the task?)") from None
    for key, (test, requirement) in RULES.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None and not test(value):
            raise ConfigError(key, f"{requirement}, got {value!r}")
    task = cfg.task
    if "noise_low" in task and task.noise_low > task.noise_high:
        raise ConfigError("task.noise_low", f"must be ≤ task.noise_high ({task.noise_low} > {task.noise_high})")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", "cuda requested but no CUDA device is available (use device=auto or cpu)")


# Keys of a group's config that are the suite's, not its target's: the run's label and an optimiser's suite node
# (suite/optimisers/build.py).
SUITE_KEYS = ("name", "suite")


def refuse_unknown_keys(group: str, spec: dict, supplied: tuple[str, ...] = ()) -> None:
    """A key of a group's config that its ``_target_`` does not take — ``+optim.lr=0.1`` for KryBall, which has no
    learning rate, or a misspelt option — as one line naming the key and the keys it takes, instead of the
    ``TypeError`` the constructor would raise (or the silence of one that swallows ``**kwargs``, as
    pytorch-optimizer's do). ``supplied``: the arguments the suite passes itself (the optimiser's parameters, a
    task's seed, device and dtype), which the config may not set."""
    target = spec.get("_target_")
    if not isinstance(target, str):
        return
    try:
        signature = inspect.signature(get_object(target))
    except (ValueError, TypeError, ImportError, AttributeError):  # no signature to read: the constructor will say
        return
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    accepted = [name for name, p in signature.parameters.items() if p.kind in named and name not in supplied]
    for key in spec:
        if not key.startswith("_") and key not in SUITE_KEYS and key not in accepted:
            raise ConfigError(f"{group}.{key}", f"not a key of {spec.get('name', target)} ({target}); it takes: "
                                                f"{', '.join(accepted) or 'no keys'}")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
