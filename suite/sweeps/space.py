"""Translate a W&B search space into Optuna distributions and samplers (thesis §5.2.5).

W&B distribution -> Optuna (github.com/wandb/sweeps ``params.py`` semantics):

==========================  ==============================================================
``constant`` (``value``)    not searched: passed to every run as a fixed override
``categorical`` (``values``) ``CategoricalDistribution``
``int_uniform``             ``IntDistribution(min, max)`` (both ends included, as in W&B)
``uniform``                 ``FloatDistribution(min, max)``
``q_uniform``               ``FloatDistribution(min, max, step=q)``
``log_uniform_values``      ``FloatDistribution(min, max, log=True)``
``log_uniform``             ``FloatDistribution(e**min, e**max, log=True)`` (W&B's bounds are
                            natural logs here)
==========================  ==============================================================

Distributions without an Optuna equivalent (normal, beta, quantised log, ...) are refused
rather than approximated, so that both backends search the same space.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import optuna
from optuna.distributions import (
    BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution,
)

from .spec import Spec, SpecError

SUPPORTED = ("constant", "categorical", "int_uniform", "uniform", "q_uniform",
             "log_uniform_values", "log_uniform")
_ALLOWED_KEYS = {"distribution", "min", "max", "q", "value", "values"}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def distribution_name(param: dict) -> str:
    """W&B's inference when ``distribution`` is left out: values -> categorical, value ->
    constant, integer bounds -> int_uniform, otherwise uniform."""
    if "distribution" in param:
        return param["distribution"]
    if "values" in param:
        return "categorical"
    if "value" in param:
        return "constant"
    ints = all(isinstance(param.get(k), int) and not isinstance(param.get(k), bool)
               for k in ("min", "max"))
    return "int_uniform" if ints else "uniform"


def translate(name: str, param) -> BaseDistribution | None:
    """The Optuna distribution of one W&B parameter; ``None`` for a constant."""
    key = f"parameters.{name}"
    if not isinstance(param, dict):
        raise SpecError(key, "expected a mapping such as {distribution: uniform, min: 0, max: 1}")
    unknown = sorted(set(param) - _ALLOWED_KEYS)
    if unknown:
        raise SpecError(f"{key}.{unknown[0]}", "not a key of a W&B parameter this engine supports")
    dist = distribution_name(param)
    if dist not in SUPPORTED:
        raise SpecError(f"{key}.distribution",
                        f"unknown or unsupported distribution {dist!r} (supported: {', '.join(SUPPORTED)})")
    if dist == "constant":
        if "value" not in param:
            raise SpecError(f"{key}.value", "missing")
        return None
    if dist == "categorical":
        values = param.get("values")
        if not isinstance(values, list) or not values:
            raise SpecError(f"{key}.values", "expected a non-empty list")
        if not all(v is None or isinstance(v, (bool, int, float, str)) for v in values):
            raise SpecError(f"{key}.values", "Optuna choices must be numbers, strings, booleans or null")
        return CategoricalDistribution(values)
    low, high = param.get("min"), param.get("max")
    for bound, value in (("min", low), ("max", high)):
        if not _number(value):
            raise SpecError(f"{key}.{bound}", f"expected a number, got {value!r}")
    if low >= high:
        raise SpecError(key, f"inverted or empty range: min {low} >= max {high}")
    if dist == "int_uniform":
        if not (isinstance(low, int) and isinstance(high, int)):
            raise SpecError(key, "int_uniform needs integer min and max")
        return IntDistribution(low, high)
    if dist == "uniform":
        return FloatDistribution(float(low), float(high))
    if dist == "q_uniform":
        q = param.get("q", 1.0)
        if not _number(q) or q <= 0:
            raise SpecError(f"{key}.q", f"expected a positive number, got {q!r}")
        return FloatDistribution(float(low), float(high), step=float(q))
    if dist == "log_uniform":
        return FloatDistribution(math.exp(low), math.exp(high), log=True)
    if low <= 0:  # log_uniform_values
        raise SpecError(f"{key}.min", f"log_uniform_values needs min > 0, got {low}")
    return FloatDistribution(float(low), float(high), log=True)


class SearchSpace(NamedTuple):
    """A spec's parameters, translated once: Optuna distributions and fixed values by name."""

    searched: dict[str, BaseDistribution]
    constants: dict[str, object]

    def probes(self) -> dict[str, object]:
        """One legal value of every parameter (the first choice or the lower bound), to check
        each one as a Hydra override before any trial starts."""
        lows = {n: (d.choices[0] if isinstance(d, CategoricalDistribution) else d.low)
                for n, d in self.searched.items()}
        return {**lows, **self.constants}


def search_space(spec: Spec) -> SearchSpace:
    """Translate every parameter of ``spec``; raise :class:`SpecError` naming the first bad one."""
    searched, constants = {}, {}
    for name, param in spec.parameters.items():
        dist = translate(str(name), param)
        if dist is None:
            constants[str(name)] = param["value"]
        else:
            searched[str(name)] = dist
    return SearchSpace(searched, constants)


def suggest(trial: optuna.Trial, space: dict[str, BaseDistribution]) -> dict[str, object]:
    """Ask ``trial`` for one value of every searched parameter."""
    params = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(name, dist.low, dist.high)
        else:
            params[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    return params


def contains(dist: BaseDistribution, value) -> bool:
    """Whether ``value`` is a value of ``dist`` (an integer parameter takes integers only)."""
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    if not _number(value) or (isinstance(dist, IntDistribution) and not isinstance(value, int)):
        return False
    return dist.low <= value <= dist.high


def clip(dist: BaseDistribution, value):
    """``value`` moved into ``dist``'s range (rounded for an integer parameter); None where no
    number can stand for it (a categorical parameter without that choice, a non-number)."""
    if isinstance(dist, CategoricalDistribution):
        return value if value in dist.choices else None
    if not _number(value):
        return None
    value = min(max(value, dist.low), dist.high)
    if isinstance(dist, IntDistribution):
        return int(round(value))
    if dist.step:  # q_uniform: the nearest point of its grid
        value = min(dist.low + round((value - dist.low) / dist.step) * dist.step, dist.high)
    return float(value)


def make_sampler(spec: Spec, space: dict[str, BaseDistribution], seed: int | None = None):
    """``(sampler, description)`` for the spec's ``method``.

    W&B's ``bayes`` is a Gaussian process with a Matern kernel (docs/sweeps.md); Optuna's
    ``GPSampler`` is the same model (Matern-5/2, ARD), used when every parameter is numeric.
    A categorical parameter makes W&B's GP one-hot encode it; Optuna's TPE handles
    categories natively, so such spaces fall back to a multivariate TPE.
    """
    if spec.method == "random":
        return optuna.samplers.RandomSampler(seed=seed), "random (RandomSampler)"
    if spec.method != "bayes":
        raise SpecError("method", f"the local engine runs bayes or random sweeps, not {spec.method!r}")
    if all(isinstance(d, (FloatDistribution, IntDistribution)) for d in space.values()):
        return optuna.samplers.GPSampler(seed=seed), "bayes -> Gaussian process (optuna GPSampler)"
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    return sampler, "bayes -> TPE (categorical parameter present; GPSampler not used)"


def make_pruner(spec: Spec, max_resource: int) -> optuna.pruners.BasePruner:
    """W&B ``early_terminate: hyperband`` -> ``HyperbandPruner`` over epochs (the step we report)."""
    if spec.hyperband is None or max_resource <= spec.hyperband.min_iter:
        return optuna.pruners.NopPruner()  # no rung before the last epoch: nothing to stop
    return optuna.pruners.HyperbandPruner(
        min_resource=spec.hyperband.min_iter,
        max_resource=max_resource,
        reduction_factor=spec.hyperband.eta,
    )
