"""The map of where KryBall+ stands, declared once: which regimes it covers, on which track, with which optimisers and
seeds (docs/results.md, "Where KryBall stands: the map"; ``regime_map.py`` draws it, ``suite/commands/map_target.py``
runs it).

A *regime* is one cell of the map's grid: a family of workloads (a row: MNIST-1D by batch size, Rahimi–Recht by
condition number κ, the physics-informed tasks, image fitting by batching) and one of its values (a column). Each is a
comparison workload (``comparison_settings.Workload``: a setting and what reaching its target means) with the
optimisers the map compares on it:

- a workload that is in a track already (MNIST-1D at batch 512, κ = 10 and 1e5, the tasks beyond the thesis) is that
  track's very setting, so the map's runs are the track's runs — the same directories and overrides
  (``run_plan.cell_specs``), each run once whichever target asks first;
- the regimes no track has (MNIST-1D at batch 128 and 3600 — the whole 3600-example training split, one full batch an
  epoch — and κ = 1e3 and 1e7) are settings of the map's own beside the self-tuning track's, with its budgets: the
  same workload with one override changed. MNIST-1D's batch sizes share MNIST-1D's accuracy target as the self-tuning
  track takes it (the tuned track's, :attr:`Regime.target_from`); Rahimi–Recht's target is its convergence criterion.

Tracks: on the self-tuning track every regime runs, every optimiser at its defaults for the track's wall-clock budget
of the family (MNIST-1D 30 s, Rahimi–Recht 10 s, …: ``comparison_settings.SELF_TUNING_BUDGETS_S``); on the tuned
track the regimes the track has — MNIST-1D at batch 512 and κ = 10 and 1e5 with their tuned configs, and the tasks
beyond the thesis, whose cells run their defaults for the task's epoch budget (no sweep has run on them:
``comparison_settings.UNTUNED_BEYOND_THESIS``) — and the grid's other cells are "not run" there, saying why.

Seeds: :data:`SEEDS` from seed 100 (the tracks' first five; the tasks beyond the thesis have 3 in the tracks, so 3
here); ``--quick`` :data:`QUICK_SEEDS` and the tracks' quick budgets.
"""
from __future__ import annotations

import dataclasses

from suite.reproduction.comparison_settings import SELF_TUNING, TUNED, Track, Workload

SUBJECT = "kryball_plus"  # whose standing the map shows
SEEDS = 5  # per cell, at most the track's own (min: a track's workload keeps its seeds where it has fewer)
QUICK_SEEDS = 1

# The optimisers the map compares with KryBall+, each where it applies (the suite refuses it elsewhere, or its sweep
# space leaves it out: sweep_sources/spaces/<optim>.yaml):
KRYBALLS = ("kryball_plus", "kryball")
FIRST_ORDER = ("adam", "msgd", "soap")  # the best first-order peers of the comparison's tuned track
MUON = ("muon",)  # where the model has hidden weight matrices: not Rahimi–Recht's two layers
LEARNING_RATE_FREE = ("prodigy", "dadapt_adam", "dadapt_sgd", "schedule_free_adamw")  # the self-tuning peers
FULL_BATCH = ("lbfgs",)  # full batch only, as its sweep space: a mini-batch mixes its curvature pairs' batches
PHASED = ("adam_then_lbfgs", "adam_then_kryball_plus")  # the physics-informed tasks' own method (Rathore et al.)

MINI_BATCH_MLP = (*KRYBALLS, *FIRST_ORDER, *MUON, *LEARNING_RATE_FREE)
FULL_BATCH_MLP = (*KRYBALLS, *FULL_BATCH, *FIRST_ORDER, *MUON, *LEARNING_RATE_FREE)
LINEAR = (*KRYBALLS, *FULL_BATCH, *FIRST_ORDER, *LEARNING_RATE_FREE)

# The grid: each family (a row) and its values (its columns), in the order drawn.
MNIST1D_BATCH, CONDITION, PHYSICS_INFORMED, IMAGE_FITTING = (
    "MNIST-1D, batch size", "Rahimi–Recht, κ", "physics-informed", "image fitting")
FAMILIES = {
    MNIST1D_BATCH: ("128", "512", "3600 (full batch)"),
    CONDITION: ("10", "1e3", "1e5", "1e7"),
    PHYSICS_INFORMED: ("convection", "reaction", "wave"),
    IMAGE_FITTING: ("full batch", "batches of 512"),
}


@dataclasses.dataclass(frozen=True)
class Regime:
    family: str  # a key of FAMILIES
    value: str  # one of its values
    workload: Workload  # its setting (runs, budgets) and what reaching its target means
    optims: tuple[str, ...]  # KryBall+ and the optimisers it is compared with here
    target_from: str | None = None  # an accuracy target: the task of the tuned track's workload that sets it

    @property
    def name(self) -> str:
        """Its setting's name: its runs' folder, and what names it in ``--only`` and the per-run results."""
        return self.workload.setting.name


@dataclasses.dataclass(frozen=True)
class Map:
    track: Track  # the track whose rules (tuned configs or not, targets) the regimes follow
    regimes: tuple[Regime, ...]
    not_run: str  # why the grid's cells without a regime are not run on this track

    def regime(self, family: str, value: str) -> Regime | None:
        return next((r for r in self.regimes if (r.family, r.value) == (family, value)), None)


def _beside(workload: Workload, name: str, label: str, overrides: tuple[str, ...], optims: tuple[str, ...]) -> Workload:
    """A regime no track has: the self-tuning ``workload`` with other ``overrides`` (its budgets, its criterion), under
    a name of its own, with the map's seeds and optimisers (no sweep spec names them: it is never tuned)."""
    base = workload.setting
    setting = dataclasses.replace(base, name=name, label=label, overrides=overrides, optims=optims, sweep_task=None,
                                  adds_swept_optimisers=False,
                                  full=dataclasses.replace(base.full, seeds=SEEDS, expensive_seeds=None))
    return dataclasses.replace(workload, setting=setting)


_SELF = {w.task: w for w in SELF_TUNING.workloads}
MNIST1D_OVERRIDES = _SELF["mnist1d"].setting.overrides
MNIST1D_BATCH128 = _beside(_SELF["mnist1d"], "self_tuning_mnist1d_batch128", "MNIST-1D MLP, batch 128",
                           (*MNIST1D_OVERRIDES, "task.batch_size=128"), MINI_BATCH_MLP)
MNIST1D_FULL_BATCH = _beside(_SELF["mnist1d"], "self_tuning_mnist1d_batch3600", "MNIST-1D MLP, full batch (3600)",
                             (*MNIST1D_OVERRIDES, "task.batch_size=3600"), FULL_BATCH_MLP)
RAHIMI_RECHT_K1E3 = _beside(_SELF["rahimi_recht_k10"], "self_tuning_rahimi_recht_k1e3", "Rahimi–Recht κ = 1e3",
                            ("task=rahimi_recht", "task.condition_number=1000.0"), LINEAR)
RAHIMI_RECHT_K1E7 = _beside(_SELF["rahimi_recht_k10"], "self_tuning_rahimi_recht_k1e7", "Rahimi–Recht κ = 1e7",
                            ("task=rahimi_recht", "task.condition_number=10000000.0"), LINEAR)
NEW_WORKLOADS = (MNIST1D_BATCH128, MNIST1D_FULL_BATCH, RAHIMI_RECHT_K1E3, RAHIMI_RECHT_K1E7)


def _mnist1d(value: str, workload: Workload, optims: tuple[str, ...]) -> Regime:
    return Regime(MNIST1D_BATCH, value, workload, optims, target_from="mnist1d")


def _beyond_thesis(track: Track) -> tuple[Regime, ...]:
    """The regimes of the tasks beyond the thesis, each on the track's own workload of the task."""
    return (
        Regime(PHYSICS_INFORMED, "convection", track.workload("pinn_convection"), (*FULL_BATCH_MLP, *PHASED)),
        Regime(PHYSICS_INFORMED, "reaction", track.workload("pinn_reaction"), (*FULL_BATCH_MLP, *PHASED)),
        Regime(PHYSICS_INFORMED, "wave", track.workload("pinn_wave"), (*FULL_BATCH_MLP, *PHASED)),
        Regime(IMAGE_FITTING, "full batch", track.workload("image_fit"), FULL_BATCH_MLP),
        Regime(IMAGE_FITTING, "batches of 512", track.workload("image_fit_minibatch"), MINI_BATCH_MLP),
    )


SELF_TUNING_MAP = Map(SELF_TUNING, (
    _mnist1d("128", MNIST1D_BATCH128, MINI_BATCH_MLP),
    _mnist1d("512", _SELF["mnist1d"], MINI_BATCH_MLP),
    _mnist1d("3600 (full batch)", MNIST1D_FULL_BATCH, FULL_BATCH_MLP),
    Regime(CONDITION, "10", _SELF["rahimi_recht_k10"], LINEAR),
    Regime(CONDITION, "1e3", RAHIMI_RECHT_K1E3, LINEAR),
    Regime(CONDITION, "1e5", _SELF["rahimi_recht_k1e5"], LINEAR),
    Regime(CONDITION, "1e7", RAHIMI_RECHT_K1E7, LINEAR),
    *_beyond_thesis(SELF_TUNING),
), not_run="")
TUNED_MAP = Map(TUNED, (
    _mnist1d("512", TUNED.workload("mnist1d"), MINI_BATCH_MLP),
    Regime(CONDITION, "10", TUNED.workload("rahimi_recht_k10"), LINEAR),
    Regime(CONDITION, "1e5", TUNED.workload("rahimi_recht_k1e5"), LINEAR),
    *_beyond_thesis(TUNED),
), not_run="not on the tuned track: no tuned configs for MNIST-1D at batch 128 or 3600, nor Rahimi–Recht κ = 1e3 "
           "or 1e7")
MAPS = {m.track.name: m for m in (SELF_TUNING_MAP, TUNED_MAP)}
