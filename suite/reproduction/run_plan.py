"""Which runs a reproduction target needs, under its protocol or that protocol's quick CPU version.

A target (a table, the figures, the ablation, the comparison) names its settings (``chapter5``,
``ablation_settings``, ``comparison_settings``); :func:`plan` turns them into one :class:`RunSpec`
per setting × optimiser (× studied value) × seed, each in its own run directory, with the task's
tuned config where a sweep has written one (:func:`tuned_name`, the one rule for that). Seeds come
from the setting's budget, per cell (an expensive cell may have fewer); ``--seeds`` overrides them
all. :func:`describe` says what a setting ran under, for the tables' headers.
"""
from __future__ import annotations

import dataclasses
import itertools
import pathlib

import torch

from suite.config import REPO, compose_config
from suite.reproduction import chapter5
from suite.reproduction.ablation_settings import ABLATIONS
from suite.reproduction.comparison_settings import TRACKS, TUNED
from suite.reproduction.map_settings import NEW_WORKLOADS
from suite.reproduction.setting import SWEEPS_DIR, Setting, sweep_optim
from suite.sweeps import tuned as tuned_configs

TUNED_DIR = tuned_configs.TUNED_DIR

TARGETS: dict[str, tuple[Setting, ...]] = {
    "table_5_1": chapter5.TABLE_5_1,
    "xor": (chapter5.XOR,),
    "table_5_2": chapter5.TABLE_5_2,
    "sensitivity": chapter5.SENSITIVITY,
    "activations": (chapter5.ACTIVATIONS,),
    "figures": (chapter5.SADDLE, *chapter5.TABLE_5_1, chapter5.XOR, chapter5.MNIST1D, *chapter5.SENSITIVITY,
                chapter5.ACTIVATIONS, chapter5.LANDSCAPE),
    "ablation": tuple(setting for ablation in ABLATIONS for setting in ablation.settings),
    "comparison": tuple(workload.setting for workload in TUNED.workloads),  # --track picks another (settings_of)
}
FIGURE_TARGETS = ("sensitivity", "activations", "figures")  # the targets whose settings are drawn
# Every setting by name (every track's, the map's own), for the command line (--only) and for naming a setting found in
# a record.
SETTINGS = {setting.name: setting
            for settings in (*TARGETS.values(), *((w.setting for w in t.workloads) for t in TRACKS.values()),
                             (w.setting for w in NEW_WORKLOADS))
            for setting in settings}


def settings_of(target: str, track: str = TUNED.name) -> tuple[Setting, ...]:
    """The settings a target runs: the comparison's are those of its track (comparison_settings.TRACKS)."""
    if target == "comparison":
        return tuple(workload.setting for workload in TRACKS[track].workloads)
    return TARGETS[target]


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run: a setting × optimiser (× studied value) × seed, in its own directory."""
    setting: Setting
    optim: str
    seed: int
    run_dir: pathlib.Path
    overrides: tuple[str, ...]
    tuned: str | None  # the conf/tuned/ file's stem, None when untuned
    variant: str | None = None  # the studied value of setting.vary, or the option
    sweeps_dir: pathlib.Path = SWEEPS_DIR  # where the sweep that tunes it is

    @property
    def sweep_command(self) -> str | None:
        if not self.setting.tunable:
            return None
        spec = pathlib.Path(self.sweeps_dir) / self.setting.task / f"{sweep_optim(self.optim)}.yaml"
        return f"python scripts/sweep.py {spec.relative_to(REPO) if spec.is_relative_to(REPO) else spec}"


@dataclasses.dataclass
class Plan:
    specs: list[RunSpec]
    not_run: dict[str, str]  # setting name -> why it cannot run here (CIFAR-10 without data or GPU)
    sweeps_dir: pathlib.Path = SWEEPS_DIR  # where the settings' optimisers were looked up

    @property
    def planned(self) -> set[str]:
        """The names of the settings that ran or would have run here."""
        return {spec.setting.name for spec in self.specs} | set(self.not_run)


def tuned_name(setting: Setting, optim: str, tuned_dir: pathlib.Path = TUNED_DIR) -> str | None:
    """The ``+tuned=`` choice for a cell, None when untuned: ``conf/tuned/[<setting.tuned_from>/]<task>_<optim>.yaml``
    if its task's sweep has written it. The one rule that maps a cell to its tuned config."""
    file = tuned_configs.path(setting.task, sweep_optim(optim), pathlib.Path(tuned_dir) / setting.tuned_from)
    if not setting.tunable or not file.is_file():
        return None
    return f"{setting.tuned_from}/{file.stem}" if setting.tuned_from else file.stem


def cifar_unavailable(setting: Setting, overrides: list[str]) -> str | None:
    """Why a CIFAR-10 setting cannot run here (no data or no GPU), or None if it can."""
    cfg = compose_config([*setting.overrides, *overrides])
    folder = pathlib.Path(cfg.task.data_dir).resolve() / "cifar-10-batches-py"
    missing = [] if folder.is_dir() else [f"no CIFAR-10 in {folder}"]
    if cfg.device == "cpu" or not torch.cuda.is_available():
        missing.append("no GPU")
    return ", ".join(missing) or None


def selected(name: str, optim: str, only: list[str] = ()) -> bool:
    """Whether ``--only`` keeps the cell ``name/optim`` (of a setting or a regime): nothing given, its whole setting,
    or the cell itself."""
    return not only or name in only or f"{name}/{optim}" in only


def plan(targets: list[str], out: pathlib.Path, quick: bool, seeds: int | None = None,
         common: list[str] = (), only: list[str] = (), data_dir: str | None = None,
         tuned_dir: pathlib.Path = TUNED_DIR, sweeps_dir: pathlib.Path = SWEEPS_DIR, track: str = TUNED.name) -> Plan:
    """Every run the targets need, once each (settings shared by targets are run once).

    ``common`` overrides go to every run (device, threads); ``data_dir`` to the CIFAR-10 runs;
    ``only`` keeps just the cells named ``setting/optim`` (or whole settings by name);
    ``sweeps_dir`` is where a table's setting finds the optimisers beyond the thesis's rows;
    ``track`` is the comparison's (comparison_settings.TRACKS).
    """
    settings = list({setting.name: setting for target in targets
                     for setting in settings_of(target, track)}.values())
    specs, not_run = [], {}
    for setting in settings:
        name = setting.name
        cells = [o for o in setting.optimisers(sweeps_dir) if selected(name, o, only)]
        if not cells:
            continue
        own = [*common, *([f"task.data_dir={data_dir}"] if setting.needs_gpu_data and data_dir else [])]
        if setting.needs_gpu_data and (reason := cifar_unavailable(setting, own)):
            not_run[name] = reason
            continue
        for optim, variant in itertools.product(cells, setting.variants):
            specs += cell_specs(setting, optim, variant, out, quick, seeds, own, tuned_dir, sweeps_dir)
    return Plan(specs, not_run, sweeps_dir)


def cell_specs(setting: Setting, optim: str, variant: str | None, out: pathlib.Path, quick: bool,
               seeds: int | None = None, own: list[str] = (), tuned_dir: pathlib.Path = TUNED_DIR,
               sweeps_dir: pathlib.Path = SWEEPS_DIR) -> list[RunSpec]:
    """The runs of one cell, ``seeds`` of them (None: its budget's), each in its own directory: the one rule for a
    run's directory and overrides, so that two targets planning the same cell plan the same runs (and run them once)."""
    budget = setting.budget(quick)
    tuned = tuned_name(setting, optim, tuned_dir)
    folder = pathlib.Path(out) / "runs" / ("quick" if quick else "full") / setting.name / optim / (variant or "")
    specs = []
    for seed in budget.seed_range(optim, seeds):
        overrides = [*setting.overrides, f"optim={optim}", f"seed={seed}", *setting.variant_overrides(variant),
                     *([f"epochs={budget.epochs}"] if budget.epochs else []),
                     *([f"first_phase_steps={budget.first_phase_steps}"] if budget.first_phase_steps else []),
                     *([f"time_budget_s={budget.training_s}"] if budget.training_s else []),
                     *([f"+tuned={tuned}"] if tuned else []), *own]
        specs.append(RunSpec(setting, optim, seed, folder / f"seed{seed}", tuple(overrides), tuned, variant,
                             sweeps_dir))
    return specs


def describe(setting: Setting, quick: bool, seeds: int | None = None, sweeps_dir: pathlib.Path = SWEEPS_DIR) -> str:
    """The protocol one setting ran under, for the table headers (cells with fewer seeds named)."""
    budget = setting.budget(quick)
    epochs = budget.epochs or setting.thesis_epochs
    n = seeds if seeds is not None else budget.seeds
    stated, whole = (("thesis", "the thesis budget") if setting.thesis_task
                     else ("the task's budget", "the task's budget"))
    if budget.time_budget_s:
        length = (f"{budget.time_budget_s:g} s of training (wall-clock, evaluation excluded; at most {epochs} "
                  f"epochs; {stated}: {setting.thesis_epochs} epochs)")
    else:
        cut = f" ({stated}: {setting.thesis_epochs})" if epochs != setting.thesis_epochs else f" ({whole})"
        capped = (f", at most {budget.time_cap_s:g} s of training (wall-clock, evaluation excluded)"
                  if budget.time_cap_s else "")
        phase = f", phased optimisers' first phase {budget.first_phase_steps}" if budget.first_phase_steps else ""
        length = f"{epochs} epochs{cut}{capped}{phase}"
    key = setting.variant_key
    each = f" for each {key} in {{{', '.join(setting.variants)}}}" if key else ""
    fewer = budget.describe_expensive(setting.optimisers(sweeps_dir)) if seeds is None else ""
    first = f" from seed {budget.first_seed}" if budget.first_seed else ""
    return f"{setting.label}: {n} seed{'s' * (n != 1)}{first} × {length}{each}{fewer}"
