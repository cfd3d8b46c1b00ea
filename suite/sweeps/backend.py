"""What every sweep backend gets and gives: a checked :class:`Sweep` in; a :class:`Best`, or a
ranked :class:`Search`, out.

``scripts/sweep.py`` checks the spec once (:func:`prepare`) and hands it to the protocol the user
chose (``suite.sweeps.choices``), which runs it on the chosen backend: ``--protocol thesis`` asks
:meth:`Backend.run` for the best run, the default protocol asks :meth:`Backend.search` for every
finished trial, after its :class:`Anchor` trials, to re-run the best of them. A backend declares
its own command-line options; the command refuses them for every other backend, so an option
that would be silently ignored is an error instead.
"""
from __future__ import annotations

import abc
import argparse
import dataclasses
import pathlib
from collections.abc import Callable
from typing import ClassVar

from omegaconf import DictConfig, OmegaConf

from suite.config import CONF_DIR, REPO
from suite.run_record import GOALS

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


def prepare(spec: str | pathlib.Path | Spec, extra_overrides=()) -> Sweep:
    """Check everything before a trial starts: the spec (a path, or a :class:`Spec` a protocol
    adapted), its space, its metric, and each parameter as a Hydra override of this
    task/optimiser. Raises :class:`SpecError`."""
    spec = spec if isinstance(spec, Spec) else load(spec)
    space = search_space(spec)
    if spec.metric.name not in objective.METRICS:
        raise SpecError("metric.name", f"{spec.metric.name!r} is not one of {', '.join(objective.METRICS)}")
    improves = {"min": "minimize", "max": "maximize"}.get(GOALS.get(spec.metric.name))
    if improves and spec.metric.goal != improves:  # a sweep that would select the worst run
        better = "lower" if improves == "minimize" else "higher"
        raise SpecError("metric.goal", f"{spec.metric.name} is better {better} (suite/run_record.py, GOALS): "
                                       f"expected {improves}, got {spec.metric.goal}")
    # The command's logger choice is for W&B runs; local trials keep the default logger (and the
    # W&B backend passes the command on unchanged).
    trial_overrides = (*(o for o in spec.fixed_overrides if not o.startswith("logger=")),
                       *extra_overrides)
    base = hydra_overrides.check(list(trial_overrides), space.probes())
    if spec.metric.name in objective.VALIDATION and not OmegaConf.select(base, "task.validation_fraction"):
        raise SpecError("metric.name", f"{spec.metric.name} needs a validation split, and task "
                                       f"{base.task.name} has none here (task.validation_fraction)")
    return Sweep(spec, space, tuple(extra_overrides), trial_overrides, base)


@dataclasses.dataclass(frozen=True)
class Best:
    """The best configuration a backend found, and where it came from."""

    params: dict[str, object]  # sweep parameter name (a Hydra override key) -> value
    value: object  # the spec's metric for that run
    provenance: tuple[str, ...]  # lines for the tuned config's header: which study/run, which value
    summary: dict | None = None  # that run's summary.json (RunSummary fields), where the backend has it


@dataclasses.dataclass(frozen=True)
class Anchor:
    """A trial the search runs before sampling any: a full setting of the searched parameters."""

    name: str  # how the trial is labelled ("defaults", or why the thesis states it)
    params: dict[str, object]


@dataclasses.dataclass(frozen=True)
class SearchTrial:
    """One finished trial of a search."""

    number: int
    params: dict[str, object]  # everything it ran with: the spec's constants too
    value: float  # the spec's metric (objective.trial_value)
    run_dir: pathlib.Path
    anchor: str | None = None  # the anchor's name if it was one


@dataclasses.dataclass(frozen=True)
class Search:
    """What a search left: its finished trials, best first, and where they live."""

    study: str
    out_dir: pathlib.Path  # its run directories (re-runs go beside them)
    trials: tuple[SearchTrial, ...]
    provenance: str  # one line for the tuned config's header


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

    def search(self, sweep: Sweep, trials: int, args: argparse.Namespace,
               anchors: list[Anchor]) -> Search:
        """Run the ``anchors`` first, then search until the study has ``trials`` finished trials
        (a study that has them runs nothing), and return its completed trials, best first.
        A backend that cannot place chosen trials in its search refuses."""
        raise BackendUnavailable(f"--backend {self.name} cannot run the default protocol's anchor "
                                 "trials and re-runs; use --backend local, or --protocol thesis")


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
