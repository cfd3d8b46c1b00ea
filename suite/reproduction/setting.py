"""A *setting* of the reproduction: what one column of a thesis table or one study of a figure runs.

A setting names how ``train.py`` selects it (its overrides), its budgets under the thesis protocol
and the quick one, and the optimisers it compares. Those of a table's setting
(``adds_swept_optimisers``) are the thesis's rows, in the thesis's order, followed by every other
optimiser that has a sweep spec for the setting's task, ``sweeps/<task>/<optim>.yaml``, sorted by
name — so adding an optimiser to every table is a config file (``conf/optim/<name>.yaml``) and a
sweep spec, no code; its rows are marked beyond the thesis. The declared settings are in
``chapter5`` (the thesis's) and ``ablation_settings`` (beyond it).
"""
from __future__ import annotations

import dataclasses
import pathlib

from suite.config import REPO
from suite.optimisers import presentation

SWEEPS_DIR = REPO / "sweeps"
# The thesis's one-evaluation LBFGS (XOR, §5.3.2) is tuned by sweeps/xor/lbfgs.yaml.
SWEEP_OPTIM = {"lbfgs_single": "lbfgs"}


def sweep_optim(optim: str) -> str:
    """The name of the optimiser's sweep spec and tuned config (``sweeps/<task>/<it>.yaml``)."""
    return SWEEP_OPTIM.get(optim, optim)


@dataclasses.dataclass(frozen=True)
class Budget:
    seeds: int
    epochs: int | None = None  # None: the preset's thesis budget
    # Seeds of a second-order optimiser's cell where its runs are expensive (KryBall on MNIST-1D:
    # ~65 s a run against Adam's 5 s here); None: ``seeds`` for every cell.
    expensive_seeds: int | None = None
    # The first seed: the comparison protocol starts beyond every seed its sweeps tune or select on
    # (search seed 0, re-run seeds 1–3), so that its cells measure settings on seeds they never saw.
    first_seed: int = 0
    # Seconds of training for every run (``time_budget_s``; ``epochs`` is then a cap): the self-tuning track's
    # one wall-clock budget per workload. None: the epochs alone.
    time_budget_s: float | None = None
    # Or a cap on an epoch budget (the same ``time_budget_s``, read the other way round): the tuned track's runs
    # of a workload where a few optimisers' epochs cost minutes each. None: no cap.
    time_cap_s: float | None = None
    # A phased optimiser's first-phase steps (``first_phase_steps``) where ``epochs`` shortens the task's budget,
    # whose own first phase would not end in it; None: the task's.
    first_phase_steps: int | None = None

    def __post_init__(self):
        if self.time_budget_s and self.time_cap_s:
            raise ValueError("a budget is seconds of training (time_budget_s) or epochs capped (time_cap_s), not both")

    @property
    def training_s(self) -> float | None:
        """The run's ``time_budget_s``: its seconds of training at most, as a budget or as a cap."""
        return self.time_budget_s or self.time_cap_s

    def seed_range(self, optim: str, seeds: int | None = None) -> range:
        """The cell's seeds: ``seeds`` (``--seeds``) or the budget's count for the optimiser, from ``first_seed``."""
        return range(self.first_seed, self.first_seed + (seeds if seeds is not None else self.seeds_for(optim)))

    def seeds_for(self, optim: str) -> int:
        return self.expensive_seeds if self.expensive_seeds is not None and expensive(optim) else self.seeds

    def describe_expensive(self, optims: tuple[str, ...]) -> str:
        """E.g. ``; 5 seeds: expensive (kryball, kryball_plus)`` — or nothing when every cell has ``seeds``."""
        costly = [optim for optim in optims if self.seeds_for(optim) != self.seeds]
        return f"; {self.expensive_seeds} seeds: expensive ({', '.join(costly)})" if costly else ""


def expensive(optim: str) -> bool:
    """Whether the optimiser takes Hessian-vector products, so that its runs cost many gradients each."""
    return presentation.family(optim) is presentation.Family.SECOND_ORDER


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str                   # run sub-folder; for a table's setting also its task's sweep folder
    label: str                  # as the thesis names it
    overrides: tuple[str, ...]  # what selects it in train.py
    optims: tuple[str, ...]     # optim= choices: for a thesis setting its rows, in the thesis's order
    full: Budget
    quick: Budget
    thesis_epochs: int          # the thesis budget (a task beyond the thesis: the task's own), stated in headers
    needs_gpu_data: bool = False  # CIFAR-10: run only where the data and a GPU are present
    # A one-at-a-time study (Fig. 5.5, 5.7): the override key and its values, one run each. Its
    # other hyperparameters stay at the defaults (§5.3.4).
    vary: tuple[str, tuple[str, ...]] | None = None
    tunable: bool = True  # False: run with the defaults by design (a figure's study, a config as it ships)
    # Named variants, each a set of overrides, instead of ``vary``'s key=value (the ablation's options).
    options: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sweep_task: str | None = None  # whose sweeps and tuned configs the cells use (default: this setting's)
    adds_swept_optimisers: bool = False  # a table's setting: optimisers with a sweep spec join its rows
    tuned_from: str = ""  # the folder under conf/tuned/ its cells' tuned configs are read from ("": conf/tuned/)
    thesis_task: bool = True  # False: a task beyond the thesis, whose thesis_epochs are the task's own budget

    @property
    def task(self) -> str:
        return self.sweep_task or self.name

    def optimisers(self, sweeps_dir: pathlib.Path = SWEEPS_DIR) -> tuple[str, ...]:
        """The optimisers this setting runs: its own, then (for a table's setting) every other one
        with a sweep spec in ``sweeps_dir/<task>/``, sorted by name."""
        if not self.adds_swept_optimisers:
            return self.optims
        folder = pathlib.Path(sweeps_dir) / self.task
        covered = {sweep_optim(optim) for optim in self.optims}
        swept = sorted(spec.stem for spec in folder.glob("*.yaml")) if folder.is_dir() else []
        return (*self.optims, *(optim for optim in swept if optim not in covered))

    @property
    def studied_optim(self) -> str:
        """The optimiser of a one-optimiser study (Fig. 5.5–5.7): the one its figure draws."""
        return self.optims[0]

    def beyond_thesis(self, optim: str) -> bool:
        """Whether the optimiser's rows are ours alone: the thesis reports no number for it here."""
        return optim not in self.optims

    @property
    def variants(self) -> tuple[str | None, ...]:
        if self.options:
            return tuple(name for name, _ in self.options)
        return self.vary[1] if self.vary else (None,)

    @property
    def variant_key(self) -> str | None:
        """What the variants vary, for headers and progress lines."""
        return "option" if self.options else self.vary[0] if self.vary else None

    def variant_overrides(self, variant: str | None) -> tuple[str, ...]:
        if variant is None:
            return ()
        return dict(self.options)[variant] if self.options else (f"{self.vary[0]}={variant}",)

    def budget(self, quick: bool) -> Budget:
        return self.quick if quick else self.full
