"""The files the sweep specs are generated from (``sweep_sources/``, docs/sweeps.md).

* ``protocol.yaml`` — what every sweep shares: the search written into every spec (method, runs,
  seed) and the settings of both protocols (``robust``: re-runs; ``thesis``: §5.2.5's Hyperband),
  which ``scripts/sweep.py`` reads when it runs a spec (docs/sweeps.md, "Protocols").
* ``programs/<program>.yaml`` — a group of tasks swept alike: metric, budget, explanation, and
  per task the Hydra overrides that select it. Each task becomes ``sweeps/<task>/``.
* ``spaces/<optim>.yaml`` — one optimiser's search space (W&B's ``parameters`` block: the
  thesis's, plus ``beyond_thesis`` parameters only the default protocol searches), its
  ``anchors`` (values the thesis states, run first by the default protocol, beside the library
  defaults) and where they come from. A space is swept on every program unless it names its
  ``programs``, and on every task of them unless it is ``full_batch_only`` and the task says it has
  ``mini_batch``es; a program may run a space with another ``conf/optim`` file (``optim_configs``:
  L-BFGS on XOR).

Every problem is a :class:`SourceError` naming the file and the key.
"""
from __future__ import annotations

import dataclasses
import pathlib

import yaml

from suite.config import CONF_DIR, REPO

from . import space as space_mod
from .spec import Hyperband, SpecError, hyperband_of

SOURCES_DIR = REPO / "sweep_sources"
SPECS_DIR = REPO / "sweeps"  # where the specs made from them live


class SourceError(ValueError):
    def __init__(self, where: str, key: str, message: str):
        super().__init__(f"{where}: {key}: {message}")


@dataclasses.dataclass(frozen=True)
class RobustSettings:
    """The default protocol's phases after the search (docs/sweeps.md)."""

    top_k: int  # search trials re-run
    seeds: tuple[int, ...]  # the seeds they re-run on; their mean selects


@dataclasses.dataclass(frozen=True)
class ThesisSettings:
    """What ``--protocol thesis`` adds to a spec (thesis §5.2.5)."""

    hyperband: Hyperband


@dataclasses.dataclass(frozen=True)
class Protocol:
    about: str
    method: str
    run_cap: int
    impute: str
    overrides: tuple[str, ...]  # after the task's and the optimiser's
    robust: RobustSettings
    thesis: ThesisSettings


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """A space swept with another ``conf/optim`` file on one program's tasks."""

    config: str
    why: str


@dataclasses.dataclass(frozen=True)
class Task:
    name: str  # sweeps/<name>/, conf/tuned/<name>_<optim>.yaml
    title: str
    overrides: tuple[str, ...]  # select the task's preset in train.py
    epochs: int  # sweep budget per run
    mini_batch: bool = False  # more than one batch an epoch: no spec of a full_batch_only space


@dataclasses.dataclass(frozen=True)
class Program:
    name: str
    about: str
    metric_name: str
    goal: str
    tasks: tuple[Task, ...]
    optim_configs: dict[str, OptimConfig]  # space name -> the config it runs with here

    def config_of(self, space: str) -> str:
        """The ``optim=`` choice that sweeps ``space`` on this program's tasks."""
        return self.optim_configs[space].config if space in self.optim_configs else space


@dataclasses.dataclass(frozen=True)
class Anchor:
    """Values run before the search (the library defaults with these changed): where they are
    stated (the anchor's name in a study) and why."""

    source: str
    why: str
    values: dict


@dataclasses.dataclass(frozen=True)
class Space:
    name: str  # sweeps/<task>/<name>.yaml; conf/optim/<name>.yaml unless a program maps it
    about: str
    parameters: dict  # W&B's parameters block: the thesis's space
    programs: tuple[str, ...] | None  # None: every program
    beyond_thesis: dict = dataclasses.field(default_factory=dict)  # searched by the default protocol only
    anchors: tuple[Anchor, ...] = ()
    full_batch_only: bool = False  # swept only on the tasks of its programs that are not mini_batch

    def swept_on(self, program: Program) -> bool:
        return self.programs is None or program.name in self.programs

    def swept_on_task(self, program: Program, task: Task) -> bool:
        """Whether a spec of this space is made for the program's task."""
        return self.swept_on(program) and not (self.full_batch_only and task.mini_batch)

    @property
    def searched(self) -> dict:
        """Every parameter a spec of this space holds (the default protocol searches them all)."""
        return {**self.parameters, **self.beyond_thesis}


@dataclasses.dataclass(frozen=True)
class Sources:
    protocol: Protocol
    programs: tuple[Program, ...]
    spaces: tuple[Space, ...]


def _read(path: pathlib.Path, root: pathlib.Path) -> tuple[str, dict]:
    where = path.relative_to(root.parent).as_posix()
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise SourceError(where, "file", str(err).splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise SourceError(where, "file", "expected a mapping")
    return where, raw


def _fields(raw, where: str, prefix: str, required: dict, optional: dict | None = None) -> dict:
    """``raw``'s entries after checking that each key is known, each required one present, and
    each value of its type; missing optional keys are ``None``."""
    optional = optional or {}
    if not isinstance(raw, dict):
        raise SourceError(where, prefix or "file", "expected a mapping")
    for key in raw:
        if key not in required and key not in optional:
            raise SourceError(where, prefix + str(key), f"unknown key (known: {', '.join([*required, *optional])})")
    for key in required:
        if key not in raw:
            raise SourceError(where, prefix + key, "missing")
    for key, kind in {**required, **optional}.items():
        # bool is an int to Python: a flag must be a bool, and a number must not be one
        if key in raw and not (isinstance(raw[key], kind) and isinstance(raw[key], bool) == (kind is bool)):
            raise SourceError(where, prefix + key, f"expected {getattr(kind, '__name__', kind)}, got {raw[key]!r}")
    return {key: raw.get(key) for key in (*required, *optional)}


def load_protocol(root: pathlib.Path = SOURCES_DIR) -> Protocol:
    """``protocol.yaml`` alone: what ``scripts/sweep.py`` needs of the sources to run a protocol."""
    root = pathlib.Path(root)
    where, raw = _read(root / "protocol.yaml", root)
    f = _fields(raw, where, "", {"about": str, "method": str, "run_cap": int, "impute": str,
                                 "overrides": list, "robust": dict, "thesis": dict})
    robust = _fields(f["robust"], where, "robust.", {"top_k": int, "seeds": list})
    if robust["top_k"] < 1:
        raise SourceError(where, "robust.top_k", f"expected at least 1, got {robust['top_k']}")
    seeds = robust["seeds"]
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds) \
            or len(set(seeds)) != len(seeds):
        raise SourceError(where, "robust.seeds", f"expected distinct integer seeds, got {seeds!r}")
    thesis = _fields(f["thesis"], where, "thesis.", {"hyperband": dict})
    _fields(thesis["hyperband"], where, "thesis.hyperband.", {"eta": int, "min_iter": int})
    try:  # the sweep command's own check of a W&B early_terminate block
        hyperband = hyperband_of({"type": "hyperband", **thesis["hyperband"]})
    except SpecError as err:
        raise SourceError(where, "thesis.hyperband." + err.key.rpartition(".")[2], err.message) from None
    return Protocol(f["about"], f["method"], f["run_cap"], f["impute"], tuple(map(str, f["overrides"])),
                    RobustSettings(robust["top_k"], tuple(seeds)), ThesisSettings(hyperband))


def _program(path: pathlib.Path, root: pathlib.Path) -> Program:
    where, raw = _read(path, root)
    f = _fields(raw, where, "", {"about": str, "metric": dict, "epochs": int, "tasks": dict},
                {"optim_configs": dict})
    metric = _fields(f["metric"], where, "metric.", {"name": str, "goal": str})
    tasks = []
    for name, entry in f["tasks"].items():
        t = _fields(entry, where, f"tasks.{name}.", {"title": str, "overrides": list},
                    {"epochs": int, "mini_batch": bool})
        tasks.append(Task(str(name), t["title"], tuple(map(str, t["overrides"])), t["epochs"] or f["epochs"],
                          bool(t["mini_batch"])))
    configs = {}
    for space, entry in (f["optim_configs"] or {}).items():
        c = _fields(entry, where, f"optim_configs.{space}.", {"config": str, "why": str})
        configs[str(space)] = OptimConfig(c["config"], c["why"])
    return Program(path.stem, f["about"], metric["name"], metric["goal"], tuple(tasks), configs)


def _spaces(root: pathlib.Path) -> tuple[Space, ...]:
    raws = {path.stem: _read(path, root) for path in sorted((root / "spaces").glob("*.yaml"))}
    spaces = []
    for name, (where, raw) in raws.items():
        f = _fields(raw, where, "", {"about": str},
                    {"parameters": dict, "parameters_from": str, "programs": list,
                     "beyond_thesis": dict, "anchors": list, "full_batch_only": bool})
        if (f["parameters"] is None) == (f["parameters_from"] is None):
            raise SourceError(where, "parameters", "give either parameters or parameters_from")
        parameters, beyond = f["parameters"], f["beyond_thesis"] or {}
        if f["parameters_from"] is not None:  # another optimiser's space, not a copy of it
            _, other = raws.get(f["parameters_from"], (None, {}))
            parameters = other.get("parameters")
            if not isinstance(parameters, dict):
                raise SourceError(where, "parameters_from",
                                  f"spaces/{f['parameters_from']}.yaml has no parameters of its own")
            beyond = {**(other.get("beyond_thesis") or {}), **beyond}
        overlap = sorted(set(parameters) & set(beyond))
        if overlap:
            raise SourceError(where, f"beyond_thesis.{overlap[0]}", "already a parameter of the thesis's space")
        programs = tuple(map(str, f["programs"])) if f["programs"] is not None else None
        anchors = _anchors(f["anchors"] or [], where, {**parameters, **beyond})
        spaces.append(Space(name, f["about"], parameters, programs, beyond, anchors, bool(f["full_batch_only"])))
    return tuple(spaces)


def _anchors(entries: list, where: str, searched: dict) -> tuple[Anchor, ...]:
    """Each anchor names searched parameters only, with values inside their ranges."""
    anchors = []
    for i, entry in enumerate(entries):
        a = _fields(entry, where, f"anchors.{i}.", {"source": str, "why": str, "values": dict})
        for name, value in a["values"].items():
            key = f"anchors.{i}.values.{name}"
            if name not in searched:
                raise SourceError(where, key, "not a parameter of this space")
            try:
                dist = space_mod.translate(str(name), searched[name])
            except SpecError:
                continue  # the parameter's own error is reported where the spec is checked
            if dist is None or not space_mod.contains(dist, value):
                raise SourceError(where, key, f"{value!r} is not in the parameter's range")
        anchors.append(Anchor(a["source"], a["why"], dict(a["values"])))
    return tuple(anchors)


def load(root: pathlib.Path = SOURCES_DIR, conf_dir: pathlib.Path = CONF_DIR) -> Sources:
    """Read every source under ``root`` and check that they fit together and with ``conf/optim``."""
    root = pathlib.Path(root)
    sources = Sources(load_protocol(root),
                      tuple(_program(p, root) for p in sorted((root / "programs").glob("*.yaml"))),
                      _spaces(root))
    _check_links(sources, root.name, pathlib.Path(conf_dir))
    return sources


def _check_links(sources: Sources, root: str, conf_dir: pathlib.Path) -> None:
    programs = {p.name for p in sources.programs}
    spaces = {s.name: s for s in sources.spaces}
    for space in sources.spaces:
        unknown = sorted(set(space.programs or ()) - programs)
        if unknown:
            raise SourceError(f"{root}/spaces/{space.name}.yaml", "programs", f"no program {unknown[0]!r}")
    owners: dict[str, str] = {}  # task -> its program
    for program in sources.programs:
        where = f"{root}/programs/{program.name}.yaml"
        for task in program.tasks:
            if task.name in owners:
                raise SourceError(where, f"tasks.{task.name}", f"also a task of programs/{owners[task.name]}.yaml")
            owners[task.name] = program.name
        for name in program.optim_configs:
            if name not in spaces or not spaces[name].swept_on(program):
                raise SourceError(where, f"optim_configs.{name}", f"no space spaces/{name}.yaml is swept here")
        for space in sources.spaces:
            config = program.config_of(space.name)
            if space.swept_on(program) and not (conf_dir / "optim" / f"{config}.yaml").is_file():
                raise SourceError(f"{root}/spaces/{space.name}.yaml", "name",
                                  f"no optimiser config conf/optim/{config}.yaml to sweep on {program.name}")


def space_of(spec_path: pathlib.Path, root: pathlib.Path = SOURCES_DIR,
             specs_dir: pathlib.Path = SPECS_DIR) -> Space | None:
    """The space a generated spec (``sweeps/<task>/<optim>.yaml``) was made from, for what W&B's
    format cannot hold (anchors, which parameters are beyond the thesis); None for a spec that
    lives elsewhere, which the sources did not make."""
    spec_path = pathlib.Path(spec_path).resolve()
    if spec_path.parent.parent != pathlib.Path(specs_dir).resolve():
        return None
    return next((s for s in load(root).spaces if s.name == spec_path.stem), None)
