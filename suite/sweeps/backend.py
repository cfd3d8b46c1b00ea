"""What every sweep backend gets and gives: a checked :class:`Sweep` in, a :class:`Best` out.

``scripts/sweep.py`` checks the spec once (:func:`prepare`), hands it to the backend the user
chose (``suite.sweeps.registry``), and writes the :class:`Best` it returns to ``conf/tuned/``.
A backend declares its own command-line options; the command refuses them for every other
backend, so an option that would be silently ignored is an error instead.
"""
from __future__ import annotations

import abc
import argparse
import dataclasses
import pathlib
from collections.abc import Callable
from typing import ClassVar

from omegaconf import DictConfig

from suite.config import CONF_DIR, REPO

from . import hydra_overrides, objective
from .space import SearchSpace, search_space
from .spec import Spec, SpecError, load


class BackendUnavailable(RuntimeError):
    """The backend cannot be used from here; the message says why and what to do instead."""


class NoBestRun(RuntimeError):
    """The sweep finished without a run to call best; the message says why."""


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A spec checked against the real Hydra config, ready for any backend."""

    spec: Spec
    space: SearchSpace
    extra_overrides: tuple[str, ...]  # the command line's Hydra overrides, for every run
    trial_overrides: tuple[str, ...]  # what one local trial composes, before its parameters
    base: DictConfig  # the config ``trial_overrides`` compose to

    @property
    def epochs(self) -> int:
        """Epochs per run: Hyperband's largest rung."""
        return int(self.base.epochs)

    @property
    def trials_default(self) -> int:
        return self.spec.run_cap or 20

    def selection(self, conf_dir: pathlib.Path = CONF_DIR) -> list[str]:
        """The config-group choices (task/experiment/optim) the tuned values apply to; the sweep
        budget (epochs, seed, logger) is deliberately not part of it."""
        return [o for o in self.trial_overrides if (conf_dir / o.split("=", 1)[0]).is_dir()]


def prepare(spec_path: str | pathlib.Path, extra_overrides=()) -> Sweep:
    """Check everything before a trial starts: the spec, its space, its metric, and each
    parameter as a Hydra override of this task/optimiser. Raises :class:`SpecError`."""
    spec = load(spec_path)
    space = search_space(spec)
    if spec.metric.name not in objective.METRICS:
        raise SpecError("metric.name", f"{spec.metric.name!r} is not one of {', '.join(objective.METRICS)}")
    # The command's logger choice is for W&B runs; local trials keep the default logger (and the
    # W&B backend passes the command on unchanged).
    trial_overrides = (*(o for o in spec.fixed_overrides if not o.startswith("logger=")),
                       *extra_overrides)
    base = hydra_overrides.check(list(trial_overrides), space.probes())
    return Sweep(spec, space, tuple(extra_overrides), trial_overrides, base)


@dataclasses.dataclass(frozen=True)
class Best:
    """The best configuration a backend found, and where it came from."""

    params: dict[str, object]  # sweep parameter name (a Hydra override key) -> value
    value: object  # the spec's metric for that run
    provenance: tuple[str, ...]  # lines for the tuned config's header: which study/run, which value


@dataclasses.dataclass(frozen=True)
class Option:
    """One command-line option that belongs to one backend (argparse's ``add_argument`` terms)."""

    flag: str
    help: str
    type: Callable[[str], object] | None = None  # argparse's: parses the text
    default: object = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


class Backend(abc.ABC):
    """Runs a checked sweep somewhere and reports its best run."""

    name: ClassVar[str]  # the value of --backend
    options: ClassVar[tuple[Option, ...]] = ()  # refused when another backend is chosen
    # Said when another backend's option is given with this one: what to do here instead.
    instead: ClassVar[str] = ""

    @abc.abstractmethod
    def run(self, sweep: Sweep, trials: int, args: argparse.Namespace) -> Best:
        """Run ``trials`` more runs of ``sweep``; ``args`` holds this backend's options by their
        ``dest``. Raises :class:`NoBestRun` when no run can be called best, and
        :class:`BackendUnavailable` when nothing could be started."""


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (trials, workers)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def repo_relative(path: str | pathlib.Path) -> str:
    """``path`` as the repository names it, for files that get committed (no machine's absolute
    paths); a path outside the repository keeps only its last two parts."""
    path = pathlib.Path(path).resolve()
    try:
        return path.relative_to(REPO).as_posix()
    except ValueError:
        return pathlib.Path(*path.parts[-2:]).as_posix() + " (outside the repository)"
