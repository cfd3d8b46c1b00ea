"""The per-seed results beside a tuned config: ``conf/tuned/<name>.results.json`` (docs/sweeps.md,
"The results file"), as one type, :class:`TunedResults`, written and read here alone.

A tuned config says only which values won; this file says how they were chosen and what they
scored, seed by seed, so that a later run can be placed against them (:mod:`suite.standing`) and a
later study can show it beat them on the same seeds (:mod:`suite.sweeps.publish`). JSON, not YAML,
so that Hydra does not offer it as a ``+tuned=`` choice; strict JSON (a non-finite number is
``null``); paths relative to the repository. The dataclasses below are its fields, in the file's
order; :data:`FORMAT` is raised when a field changes meaning. A file of an older version, or a
hand-written one, that lacks a field reads with that field's default (None, or empty).
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import pathlib
import platform
import typing

from suite.run_record import code_version, write_atomic

from .backend import repo_relative

FORMAT = 1
SUFFIX = ".results.json"
# Overrides that change where or how fast a run goes, not what it computes (suite.checkpoint.comparable).
NOT_RESULTS = ("threads=", "device=", "resume=")


@dataclasses.dataclass(frozen=True)
class ScoredMetric:
    """What selected: ``val_acc`` ...; ``epochs_to_convergence`` on the function tasks and XOR, scored as
    :func:`suite.sweeps.objective.trial_value` says."""

    name: str | None = None
    goal: str | None = None  # "minimize" or "maximize"


@dataclasses.dataclass(frozen=True)
class Selection:
    """How the winner was selected: ``mean`` over the re-run seeds (robust) or ``single run`` on the search seed
    (thesis), the value it reached, and the winner's search trial (None under the thesis protocol)."""

    statistic: str | None = None
    seeds: tuple[int, ...] = ()
    value: float | None = None
    trial: int | None = None


@dataclasses.dataclass(frozen=True)
class SeedResult:
    """One seed of the selection: the metric as scored, then its run's own ``summary.json`` fields (same names, so
    that a later run's summary compares with them field by field), and its run directory."""

    seed: int | None = None
    value: float | None = None
    status: str | None = None
    final_val_acc: float | None = None
    final_val_loss: float | None = None
    peak_val_acc: float | None = None
    final_test_acc: float | None = None
    final_test_loss: float | None = None
    peak_test_acc: float | None = None
    final_train_loss: float | None = None
    epochs_to_convergence: int | None = None
    epochs_run: int | None = None
    wall_time_s: float | None = None
    run_dir: str | None = None


# The summary.json fields a seed keeps: what tables and "where does my run stand" compare against.
PER_SEED = tuple(field.name for field in dataclasses.fields(SeedResult)
                 if field.name not in ("seed", "value", "run_dir"))


@dataclasses.dataclass(frozen=True)
class CandidateResult:
    """A setting the robust protocol re-ran: its search trial, the anchor it came from, its values, what it
    scored on the search seed, and its mean and values over the re-run seeds."""

    trial: int | None = None
    anchor: str | None = None
    params: dict = dataclasses.field(default_factory=dict)
    search_value: float | None = None
    mean: float | None = None
    values: tuple[float | None, ...] = ()


@dataclasses.dataclass(frozen=True)
class AnchorResult:
    """A setting run first by the robust protocol (the library defaults, the thesis's values, an earlier winner)."""

    name: str | None = None
    params: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """The search's size (under the thesis protocol, the command's own trials), seed, budget and anchors."""

    trials: int | None = None
    seed: int | None = None
    epochs: int | None = None
    anchors: tuple[AnchorResult, ...] = ()


@dataclasses.dataclass(frozen=True)
class TrainedOn:
    """What every run of the study trained on: the resolved ``task`` config and the epochs — what a later run must
    share to be placed against these results."""

    task: dict | None = None
    epochs: int | None = None


@dataclasses.dataclass(frozen=True)
class Durations:
    """The command's wall-clock per phase, in seconds; a resumed study counts only its last command."""

    search: float | None = None
    reruns: float | None = None
    total: float | None = None


@dataclasses.dataclass(frozen=True)
class Machine:
    """What the runs ran on, without names or paths."""

    platform: str | None = None
    processor: str | None = None
    cpu_count: int | None = None
    python: str | None = None
    torch: str | None = None
    device: str | None = None


@dataclasses.dataclass(frozen=True)
class TunedResults:
    """A results file: the ``+tuned=`` name and the command that uses it; how it was tuned (``robust`` or
    ``thesis``, the spec, the study, the command line's extra Hydra overrides); what selected, the winner's
    values by Hydra override key, and the selection; the seeds, the re-run candidates and the search; what the
    runs trained on; how long it took (``training_s``: the runs' own training time summed); when, on what and
    with which code."""

    format: int | None = None
    tuned: str | None = None
    use: str | None = None
    protocol: str | None = None
    spec: str | None = None
    study: str | None = None
    overrides: tuple[str, ...] = ()
    metric: ScoredMetric = ScoredMetric()
    params: dict = dataclasses.field(default_factory=dict)
    selection: Selection = Selection()
    seeds: tuple[SeedResult, ...] = ()
    candidates: tuple[CandidateResult, ...] = ()
    search: SearchResult = SearchResult()
    setting: TrainedOn = TrainedOn()
    duration_s: Durations = Durations()
    training_s: float | None = None
    date: str | None = None
    machine: Machine = Machine()
    code_version: str | None = None

    @property
    def optim(self) -> str:
        """The tuned optimiser: its spec's name (``sweeps/<task>/<optim>.yaml``)."""
        return pathlib.Path(self.spec or "").stem

    @classmethod
    def from_json(cls, data: dict) -> TunedResults:
        """The results as read from the file; raises ``TypeError`` for what is not a results file."""
        return _from_json(cls, data)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _from_json(cls, data):
    """``cls`` (a dataclass above) from its JSON object: nested objects and lists of them become their types,
    lists tuples; a key the file lacks keeps its default, one the type lacks is left out."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            continue
        value, kind = data[field.name], hints[field.name]
        if dataclasses.is_dataclass(kind):
            value = _from_json(kind, value)
        elif typing.get_origin(kind) is tuple and value is not None:
            item = typing.get_args(kind)[0]
            value = tuple(_from_json(item, v) if dataclasses.is_dataclass(item) else v for v in value)
        values[field.name] = value
    return cls(**values)


def path_for(tuned_file: pathlib.Path) -> pathlib.Path:
    """``conf/tuned/<name>.results.json`` beside ``conf/tuned/<name>.yaml``."""
    return tuned_file.with_name(tuned_file.stem + SUFFIX)


def finite(value):
    """A number as JSON can hold it: non-finite -> None."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def seed_entry(seed: int, value: float, summary: dict | None) -> SeedResult:
    """One seed's line: its scored value and its run's final metrics (``summary``: its summary.json)."""
    summary = summary or {}
    run_dir = repo_relative(summary["run_dir"]) if summary.get("run_dir") else None
    return SeedResult(seed, finite(value), **{key: finite(summary.get(key)) for key in PER_SEED}, run_dir=run_dir)


def setting(base) -> TrainedOn:
    """What the study's runs trained on (``base``: the composed config of a trial)."""
    from omegaconf import OmegaConf

    return TrainedOn(OmegaConf.to_container(base.task, resolve=True), int(base.epochs))


def machine(device: str | None) -> Machine:
    """The machine the runs ran on, without names or paths."""
    import torch

    return Machine(platform.platform(), platform.machine(), os.cpu_count(), platform.python_version(),
                   torch.__version__, device)


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def stamp(results: TunedResults, device: str | None) -> TunedResults:
    """``results`` with the format, date, machine and code version filled in."""
    return dataclasses.replace(results, format=FORMAT, date=now(), machine=machine(device),
                               code_version=code_version())


def comparable(results: TunedResults) -> dict:
    """What two results must share for one to replace the other: the same protocol, spec, metric,
    budget and selection seeds, and the same overrides apart from where and how fast they ran."""
    return {
        "protocol": results.protocol, "spec": results.spec, "metric": dataclasses.asdict(results.metric),
        "epochs": results.search.epochs, "seeds": list(results.selection.seeds),
        "overrides": sorted(o for o in results.overrides if not o.startswith(NOT_RESULTS)),
    }


def read(path: pathlib.Path) -> TunedResults | None:
    """The results file, or None if there is none or it cannot be read as one."""
    try:
        return TunedResults.from_json(json.loads(pathlib.Path(path).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write(path: pathlib.Path, results: TunedResults) -> None:
    write_atomic(pathlib.Path(path), json.dumps(results.to_json(), indent=2, allow_nan=False) + "\n")
