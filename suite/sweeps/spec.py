"""Load and check a W&B sweep specification (``sweeps/<task>/<optim>.yaml``).

The file is W&B's own format (github.com/wandb/sweeps, ``config/schema.json``) so that
``wandb sweep`` accepts it unchanged; the local engine reads the same file. Everything that
can be wrong with a file is found here, before any trial starts, and reported as a
:class:`SpecError` that names the offending key. It is read with ``yaml.safe_load``, not
OmegaConf, because OmegaConf would treat W&B's ``${env}`` macros as interpolations.
"""
from __future__ import annotations

import dataclasses
import pathlib

import yaml

# Top-level keys of W&B's sweep schema; anything else is a typo W&B would reject too.
TOP_LEVEL_KEYS = {
    "apiVersion", "kind", "controller", "description", "program", "job", "image_uri", "entity",
    "project", "method", "command", "name", "run_cap", "metric", "metrics", "scheduler",
    "early_terminate", "parameters",
}
METRIC_KEYS = {"name", "goal", "target", "impute", "impute_while_running"}
HYPERBAND_KEYS = {"type", "min_iter", "max_iter", "s", "eta", "strict"}
ARGS_MACRO = "${args_no_hyphens}"


class SpecError(ValueError):
    """A sweep file that cannot run; ``key`` is the dotted path of the offending entry."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message


@dataclasses.dataclass(frozen=True)
class Metric:
    name: str
    goal: str  # "minimize" or "maximize"
    impute: str


@dataclasses.dataclass(frozen=True)
class Hyperband:
    min_iter: int
    eta: int


@dataclasses.dataclass(frozen=True)
class Spec:
    """A checked sweep file. ``fixed_overrides`` are the Hydra overrides the ``command`` passes to
    every run (task, optimiser, budget); ``parameters`` are the searched ones, W&B-style."""

    path: pathlib.Path
    method: str
    metric: Metric
    hyperband: Hyperband | None
    parameters: dict
    fixed_overrides: tuple[str, ...]
    run_cap: int | None
    raw: dict

    @property
    def task(self) -> str:
        """The task directory name: ``sweeps/<task>/<optim>.yaml``."""
        return self.path.parent.name

    @property
    def optim(self) -> str:
        return self.path.stem

    @property
    def study_name(self) -> str:
        return f"{self.task}-{self.optim}"


def load(path: str | pathlib.Path) -> Spec:
    """Read ``path`` and check it; raise :class:`SpecError` on the first problem."""
    path = pathlib.Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as err:
        raise SpecError(str(path), f"cannot read ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise SpecError(str(path), f"not valid YAML ({err})") from None
    if not isinstance(raw, dict):
        raise SpecError(str(path), "expected a mapping of sweep keys")
    return parse(raw, path)


def parse(raw: dict, path: pathlib.Path) -> Spec:
    unknown = sorted(set(raw) - TOP_LEVEL_KEYS)
    if unknown:
        raise SpecError(unknown[0], "not a W&B sweep key")
    method = raw.get("method")
    if method not in ("bayes", "random", "grid", "custom"):
        raise SpecError("method", f"expected bayes, random, grid or custom, got {method!r}")
    if not isinstance(raw.get("parameters"), dict) or not raw["parameters"]:
        raise SpecError("parameters", "missing or empty")
    run_cap = raw.get("run_cap")
    if run_cap is not None and (not isinstance(run_cap, int) or run_cap < 1):
        raise SpecError("run_cap", f"expected a positive integer, got {run_cap!r}")
    return Spec(
        path=path,
        method=method,
        metric=_metric(raw.get("metric")),
        hyperband=hyperband_of(raw.get("early_terminate")),
        parameters=raw["parameters"],
        fixed_overrides=_fixed_overrides(raw.get("command")),
        run_cap=run_cap,
        raw=raw,
    )


def _metric(metric) -> Metric:
    if not isinstance(metric, dict) or "name" not in metric:
        raise SpecError("metric", "missing: a sweep needs a metric with a name to optimise")
    unknown = sorted(set(metric) - METRIC_KEYS)
    if unknown:
        raise SpecError(f"metric.{unknown[0]}", "not a W&B metric key")
    goal = metric.get("goal", "minimize")
    if goal not in ("minimize", "maximize"):
        raise SpecError("metric.goal", f"expected minimize or maximize, got {goal!r}")
    impute = metric.get("impute", "worst")
    if impute not in ("latest", "best", "worst"):
        raise SpecError("metric.impute", f"expected latest, best or worst, got {impute!r}")
    if not isinstance(metric["name"], str):
        raise SpecError("metric.name", f"expected a string, got {metric['name']!r}")
    return Metric(metric["name"], goal, impute)


def hyperband_of(early) -> Hyperband | None:
    """W&B's ``early_terminate`` block, checked (None when there is none)."""
    if early is None:
        return None
    if not isinstance(early, dict) or early.get("type") != "hyperband":
        raise SpecError("early_terminate.type", "only type: hyperband exists in W&B")
    unknown = sorted(set(early) - HYPERBAND_KEYS)
    if unknown:
        raise SpecError(f"early_terminate.{unknown[0]}", "not a W&B hyperband key")
    min_iter, eta = early.get("min_iter"), early.get("eta", 3)
    # Optuna's HyperbandPruner needs the first rung (min_iter) and an integer halving factor.
    if not isinstance(min_iter, int) or isinstance(min_iter, bool) or min_iter < 1:
        raise SpecError("early_terminate.min_iter", f"expected an integer >= 1, got {min_iter!r}")
    if not isinstance(eta, int) or isinstance(eta, bool) or eta < 2:
        raise SpecError("early_terminate.eta", f"expected an integer >= 2, got {eta!r}")
    return Hyperband(min_iter, eta)


def _fixed_overrides(command) -> tuple[str, ...]:
    """The literal ``key=value`` tokens of ``command``: the task/optimiser selection and budget.

    W&B's agent passes parameters as ``--key=value``, which Hydra rejects, so the command must
    end with ``${args_no_hyphens}`` (docs/sweeps.md, wandb#1427)."""
    if not isinstance(command, list) or not command or command[-1] != ARGS_MACRO:
        raise SpecError("command", f"must be a list ending with {ARGS_MACRO} (Hydra rejects --key=value)")
    return tuple(str(t) for t in command if "=" in str(t) and not str(t).startswith("$"))
