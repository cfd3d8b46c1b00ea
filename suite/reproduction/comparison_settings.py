"""The comparison protocol's workloads and its two tracks, declared once: Table 5.1's five function
problems, XOR and MNIST-1D, and beyond the thesis the physics-informed tasks and image fitting (full batch and
in mini-batches: ``beyond_thesis_settings``), re-run for every optimiser with a sweep spec for the task
(``kryball_plus`` and any peer optimiser included) with more seeds, confidence intervals and time-to-target
(docs/results.md, "The comparison protocol"; ``comparison.py`` writes its report).

Two tracks, after AlgoPerf's two rulesets (mlcommons/algorithmic-efficiency, docs/DOCUMENTATION.md,
"Tuning rulesets"), run on the same workloads and seeds and never mixed:

- **tuned** (:data:`TUNED`, the default): every cell with its task's tuned config (``+tuned=``, the
  default tuning protocol's winner) for the thesis's epoch budget — external tuning;
- **self-tuning** (:data:`SELF_TUNING`): every optimiser from its ``conf/optim/<name>.yaml`` unchanged,
  no ``+tuned=``, no search — what a user without a tuning budget gets — and one wall-clock budget per
  workload, the same for every optimiser (:data:`SELF_TUNING_BUDGETS_S`): ``time_budget_s``, with
  ``epochs`` a cap (:data:`EPOCH_CAP`) that no run reaches, so a cheap method runs as many epochs as fit
  (function problems and XOR still stop at convergence). Time to target is measured inside the budget.
  Its targets are the tuned track's (AlgoPerf uses one set of targets, set by tuned baselines, in
  both rulesets): ``targets.py`` and ``suite/commands/reproduce.py`` say where they are read from.

Each workload is a setting of its own (``comparison_<task>``, ``self_tuning_<task>``), so its runs never
mix with another track's or with the thesis-protocol runs of the same task; it shares the task's
overrides and sweep folder (``Setting.task``, which also names its committed per-run results file).

Seeds: 10 per cell, from seed 100 (``FIRST_SEED``) — DeepOBS re-runs the selected setting on 10
seeds (Schneider et al., 2019) — and 5 where a run is expensive: a second-order optimiser on
MNIST-1D (~60–95 s a run here, against ~9 s for Adam), marked "5 seeds: expensive" in the tables'
headers. CIFAR-10 is not a workload yet: it has no tuned configs and wants a GPU.

The target of a workload (``targets.py``): a function problem or XOR is reached when the task's
own convergence criterion is met (thesis §5.2: those criteria already are targets); MNIST-1D when
the validation accuracy reaches the median final validation accuracy of the best tuned first-order
baseline (AlgoPerf's target setting); a task beyond the thesis when its metric crosses a threshold
declared here with its reason (:class:`Threshold`: its tasks have no convergence criterion, and no tuned
baseline to set one).

The tasks beyond the thesis run 3 seeds a cell (their runs take 1–3 minutes where MNIST-1D's take seconds) and,
on the tuned track, their task's epoch budget capped at :data:`TUNED_CAP_S` seconds of training; their cells are
untuned (:data:`UNTUNED_BEYOND_THESIS` says why, and the report says it beside them).
"""
from __future__ import annotations

import dataclasses
import enum

from suite import comparison_results
from suite.reproduction import beyond_thesis_settings, chapter5
from suite.reproduction.setting import Budget, Setting
from suite.run_record import GOALS

# The folder under conf/tuned/ the comparison's cells read their tuned configs from ("": conf/tuned/
# itself) — the robust tuning protocol's winners. If they move, change it here; the rule that maps a
# cell to its file is ``run_plan.tuned_name``.
TUNED_FROM = ""


class Criterion(str, enum.Enum):
    """What reaching the target means on a workload."""

    CONVERGENCE = "convergence"  # the task's convergence criterion (summary: epochs_to_convergence)
    ACCURACY = "accuracy"  # validation (else test) accuracy ≥ the best first-order baseline's median final
    THRESHOLD = "threshold"  # a metrics.csv column at or beyond a declared value (Workload.threshold)


@dataclasses.dataclass(frozen=True)
class Threshold:
    """A fixed target on a metric: reached at the first epoch whose ``metric`` (a metrics.csv column) is at most
    ``value`` where the metric is better lower, at least where it is better higher (``suite.run_record.GOALS``)."""

    metric: str
    value: float
    why: str  # the reason for the value, stated with the target

    def __post_init__(self):
        if self.metric not in GOALS:
            raise ValueError(f"threshold metric {self.metric!r}: not one of {', '.join(GOALS)}")


@dataclasses.dataclass(frozen=True)
class Workload:
    setting: Setting  # the comparison's own setting: its runs, budgets and optimisers
    criterion: Criterion
    threshold: Threshold | None = None  # the target under Criterion.THRESHOLD (and only then)
    untuned: str = ""  # why its cells run untuned on a tuned track, said beside them ("": they are tuned or can be)

    def __post_init__(self):
        if (self.criterion is Criterion.THRESHOLD) != (self.threshold is not None):
            raise ValueError(f"{self.setting.name}: a threshold goes with Criterion.THRESHOLD, and only with it")

    @property
    def label(self) -> str:
        return self.setting.label

    @property
    def task(self) -> str:
        """The task's sweep folder (``mnist1d``): the same workload on either track, and its results file's name."""
        return self.setting.task


@dataclasses.dataclass(frozen=True)
class Track:
    name: str  # --track, the report files' infix and the folder of its committed per-run results
    title: str  # for headers
    workloads: tuple[Workload, ...]
    tuned: bool  # whether cells read their tuned configs (and report what tuning cost)
    targets_from: "Track | None" = None  # the track whose runs set this one's targets (None: its own)

    def workload(self, task: str) -> Workload | None:
        """This track's workload of a task (``mnist1d``), None if it has none."""
        return next((w for w in self.workloads if w.task == task), None)


# Seeds from 100: beyond the sweeps' search seed (0) and re-run seeds (1–3) and the tuning checks
# (10–14, docs/sweeps.md), so no cell is scored on a seed its setting was selected on.
FIRST_SEED = 100


def _workload(base: Setting, prefix: str, full: Budget, quick: Budget, criterion: Criterion,
              tuned: bool, threshold: Threshold | None = None, untuned: str = "") -> Workload:
    # The default protocol's data: the task's validation split (the thesis's data is the thesis protocol's).
    overrides = tuple(o for o in base.overrides if o not in chapter5.THESIS_DATA)
    setting = dataclasses.replace(base, name=f"{prefix}_{base.name}", overrides=overrides, full=full, quick=quick,
                                  sweep_task=base.name, tuned_from=TUNED_FROM, tunable=tuned)
    return Workload(setting, criterion, threshold, untuned)


# The targets of the tasks beyond the thesis, by task (sweep folder): fixed thresholds on their metric, since they
# have no convergence criterion and no tuned first-order baseline (no sweep has run on them) to set one.
THRESHOLDS = {
    "pinn_convection": Threshold("l2_relative_error", 0.5, (
        "half the error of the trivial solution u ≡ 0 (error 1), where Krishnapriyan et al.'s (2021) failure mode "
        "leaves every optimiser; at the CPU size and β = 40 probably none reaches it — that is a result")),
    "pinn_reaction": Threshold("l2_relative_error", 0.1, (
        "a solution within 10 %: Adam, then L-BFGS, reaches 4 % at the CPU size; KryBall and KryBall+ alone stall "
        "near 1 (docs/suite.md, first results)")),
    "pinn_wave": Threshold("l2_relative_error", 0.5, (
        "the first mode learned: sin πx cos 2πt alone is at 0.447, so only a network that has learned it gets "
        "below 0.5; none learned the second mode (½ sin 5πx cos 10πt) within budget (docs/suite.md, first "
        "results)")),
    "image_fit": Threshold("test_psnr", 19.0, (
        "an image recognisably fitted between the training pixels: KryBall reaches 19.1 dB, L-BFGS 20–21.6 dB, "
        "Adam's 200 steps 10.9 dB (docs/suite.md, first results)")),
}
THRESHOLDS["image_fit_minibatch"] = THRESHOLDS["image_fit"]  # the same image and pixels: the same bar


# The tuned track. 2000 one-step epochs take seconds here, so --quick keeps every budget and cuts seeds.
FUNCTIONS = tuple(_workload(base, "comparison", Budget(10, first_seed=FIRST_SEED), Budget(3, first_seed=FIRST_SEED),
                            Criterion.CONVERGENCE, tuned=True)
                  for base in (*chapter5.TABLE_5_1, chapter5.XOR))
MNIST1D = _workload(chapter5.MNIST1D, "comparison", Budget(10, expensive_seeds=5, first_seed=FIRST_SEED),
                    Budget(3, epochs=20, expensive_seeds=2, first_seed=FIRST_SEED), Criterion.ACCURACY, tuned=True)
# The tasks beyond the thesis: their task's epoch budget (500 steps, the wave 400, image fitting 200 epochs), 3 seeds,
# capped at TUNED_CAP_S seconds of training. The cap is for trust-Krylov, whose steps take 2–8.5 s on these tasks
# here: its 500 PINN epochs would take 15 minutes (the wave's 400: an hour); so also for Adam, then trust-Krylov. It
# is set above the longest whole run measured of every other optimiser (docs/suite.md, "Sizes and step costs": L-BFGS
# 111–122 s on convection and reaction, 173 s on the wave; the thesis KryBall 133 s on the wave; Adam, KryBall+,
# Adam then L-BFGS or KryBall 3–100 s), so that they run their whole budgets; the "epochs run" column shows where it
# ended a run.
# --quick: 1 seed and a fifth of the epochs, of the cap, and of the phased optimisers' first phase (the task files
# give it half their budget: docs/suite.md, "Phased optimisers").
TUNED_CAP_S = 200.0
UNTUNED_BEYOND_THESIS = (
    "no sweep has run on these workloads: tuning their 18 optimisers × 5 workloads (80 sweeps) by the default "
    "protocol, 20 search runs and up to 12 re-runs each at 1–3 minutes a run, is ~100 h of this 2-core CPU; their "
    "cells run the optimiser's defaults")
BEYOND_THESIS = (*beyond_thesis_settings.PHYSICS_INFORMED, *beyond_thesis_settings.IMAGE_FITTING)


def _beyond_thesis(base: Setting) -> Workload:
    quick_epochs = base.thesis_epochs // 5
    full = Budget(3, first_seed=FIRST_SEED, time_cap_s=TUNED_CAP_S)
    quick = Budget(1, epochs=quick_epochs, first_seed=FIRST_SEED, time_cap_s=TUNED_CAP_S / 5,
                   first_phase_steps=quick_epochs // 2)
    return _workload(base, "comparison", full, quick, Criterion.THRESHOLD, tuned=True,
                     threshold=THRESHOLDS[base.name], untuned=UNTUNED_BEYOND_THESIS)


WORKLOADS = (*FUNCTIONS, MNIST1D, *(_beyond_thesis(base) for base in BEYOND_THESIS))
TUNED = Track(comparison_results.TUNED,
              "tuned track (every cell tuned by the default protocol, the thesis's epoch budgets)", WORKLOADS, tuned=True)

# The self-tuning track's budgets: seconds of training (``wall_time_s``, evaluation excluded, at one thread on
# the project's 2-core CPU), (full, --quick), per task. Each is the same for every optimiser, and generous to
# the first-order methods, which get more epochs per second than the thesis's epoch budgets gave them:
# - Table 5.1 (each problem): 10 s. The slowest tuned second-order cell of the tuned track, the thesis KryBall
#   on Rahimi–Recht κ = 1e5, converged within 313 epochs of ~17 ms (~5 s) on every seed: it fits twice. And 10 s
#   hold the thesis's 2000 epochs of every first-order method here (at most ~5 ms an epoch: D-Adapt Adam on
#   κ = 1e5, measured on a busy machine), so no first-order method gets fewer epochs than the thesis gave it.
# - XOR: 2 s. The thesis's 100 epochs of the slowest optimiser per epoch here (KryBall, 5–14 ms) take at most
#   1.4 s; the tuned second-order cells converge within 0.13 s.
# - MNIST-1D: 30 s, about 1.5× what KryBall+ at its shipped defaults takes for the task's 100 epochs (~20 s):
#   the main job's budget with room for a slower machine; Adam and MSGD fit 300–600 epochs.
# - Each physics-informed task: 30 s, about what KryBall+ at its defaults takes for the task's whole budget (500 steps
#   of convection or reaction: 22–24 s; the wave's 400 take 48 s, so it gets ~250 of them); Adam then gets 1400–3000
#   steps, L-BFGS (0.24–0.43 s a step: up to 20 iterations each) 70–130, trust-Krylov (2–8.5 s a step) 4–16. The
#   phased optimisers switch at the task's first_phase_steps (250, the wave 200), which Adam's steps reach in 3–5 s.
# - Image fitting, full batch or batches of 512: 20 s, three times what KryBall+ takes for the task's 200 epochs
#   (6.2 s): Adam fits ~1400 epochs, L-BFGS (0.38 s an epoch) about 50.
#   (Step costs and whole runs: docs/suite.md, "Sizes and step costs", measured at one thread on a loaded machine.)
# --quick: a fifth of each (minutes on 2 cores with 2 seeds a cell).
SELF_TUNING_BUDGETS_S = {
    **{base.name: (10.0, 2.0) for base in chapter5.TABLE_5_1},
    chapter5.XOR.name: (2.0, 0.4),
    chapter5.MNIST1D.name: (30.0, 6.0),
    **{base.name: (30.0, 6.0) for base in beyond_thesis_settings.PHYSICS_INFORMED},
    **{base.name: (20.0, 4.0) for base in beyond_thesis_settings.IMAGE_FITTING},
}
# The epochs of a self-tuning run: a cap the budget ends first. The cheapest epoch here, MSGD's step on
# Rosenbrock's two parameters, takes ~0.5 ms of training, so the longest budget of a function problem holds some
# 20 000 epochs: the cap leaves room for a machine 50× faster; it only keeps a run finite.
EPOCH_CAP = 1_000_000


def _self_tuning(base: Setting, criterion: Criterion, expensive_seeds: int | None, seeds: tuple[int, int] = (10, 2),
                 threshold: Threshold | None = None) -> Workload:
    full_s, quick_s = SELF_TUNING_BUDGETS_S[base.name]
    full = Budget(seeds[0], epochs=EPOCH_CAP, expensive_seeds=expensive_seeds, first_seed=FIRST_SEED,
                  time_budget_s=full_s)
    quick = Budget(seeds[1], epochs=EPOCH_CAP, first_seed=FIRST_SEED, time_budget_s=quick_s)
    return _workload(base, "self_tuning", full, quick, criterion, tuned=False, threshold=threshold)


SELF_TUNING = Track(
    comparison_results.SELF_TUNING,
    "self-tuning track (every optimiser at its defaults, one wall-clock budget per workload)",
    (*(_self_tuning(base, Criterion.CONVERGENCE, None) for base in (*chapter5.TABLE_5_1, chapter5.XOR)),
     _self_tuning(chapter5.MNIST1D, Criterion.ACCURACY, expensive_seeds=5),
     # the tuned track's seeds there: 3 (1 under --quick)
     *(_self_tuning(base, Criterion.THRESHOLD, None, (3, 1), THRESHOLDS[base.name]) for base in BEYOND_THESIS)),
    tuned=False, targets_from=TUNED)

TRACKS = {track.name: track for track in (TUNED, SELF_TUNING)}
