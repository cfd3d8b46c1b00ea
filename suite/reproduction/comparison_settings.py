"""The comparison protocol's workloads and its two tracks, declared once: Table 5.1's five function
problems, XOR and MNIST-1D, re-run for every optimiser with a sweep spec for the task (``kryball_plus``
and any peer optimiser included) with more seeds, confidence intervals and time-to-target
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
baseline (AlgoPerf's target setting).
"""
from __future__ import annotations

import dataclasses
import enum

from suite import comparison_results
from suite.reproduction import chapter5
from suite.reproduction.setting import Budget, Setting

# The folder under conf/tuned/ the comparison's cells read their tuned configs from ("": conf/tuned/
# itself) — the robust tuning protocol's winners. If they move, change it here; the rule that maps a
# cell to its file is ``run_plan.tuned_name``.
TUNED_FROM = ""


class Criterion(str, enum.Enum):
    """What reaching the target means on a workload."""

    CONVERGENCE = "convergence"  # the task's convergence criterion (summary: epochs_to_convergence)
    ACCURACY = "accuracy"  # validation (else test) accuracy ≥ the best first-order baseline's median final


@dataclasses.dataclass(frozen=True)
class Workload:
    setting: Setting  # the comparison's own setting: its runs, budgets and optimisers
    criterion: Criterion

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
              tuned: bool) -> Workload:
    # The default protocol's data: the task's validation split (the thesis's data is the thesis protocol's).
    overrides = tuple(o for o in base.overrides if o not in chapter5.THESIS_DATA)
    setting = dataclasses.replace(base, name=f"{prefix}_{base.name}", overrides=overrides, full=full, quick=quick,
                                  sweep_task=base.name, tuned_from=TUNED_FROM, tunable=tuned)
    return Workload(setting, criterion)


# The tuned track. 2000 one-step epochs take seconds here, so --quick keeps every budget and cuts seeds.
FUNCTIONS = tuple(_workload(base, "comparison", Budget(10, first_seed=FIRST_SEED), Budget(3, first_seed=FIRST_SEED),
                            Criterion.CONVERGENCE, tuned=True)
                  for base in (*chapter5.TABLE_5_1, chapter5.XOR))
MNIST1D = _workload(chapter5.MNIST1D, "comparison", Budget(10, expensive_seeds=5, first_seed=FIRST_SEED),
                    Budget(3, epochs=20, expensive_seeds=2, first_seed=FIRST_SEED), Criterion.ACCURACY, tuned=True)
WORKLOADS = (*FUNCTIONS, MNIST1D)
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
# --quick: a fifth of each (minutes on 2 cores with 2 seeds a cell).
SELF_TUNING_BUDGETS_S = {
    **{base.name: (10.0, 2.0) for base in chapter5.TABLE_5_1},
    chapter5.XOR.name: (2.0, 0.4),
    chapter5.MNIST1D.name: (30.0, 6.0),
}
# The epochs of a self-tuning run: a cap the budget ends first. The cheapest epoch here, MSGD's step on
# Rosenbrock's two parameters, takes ~0.5 ms of training, so the longest budget of a function problem holds some
# 20 000 epochs: the cap leaves room for a machine 50× faster; it only keeps a run finite.
EPOCH_CAP = 1_000_000


def _self_tuning(base: Setting, criterion: Criterion, expensive_seeds: int | None) -> Workload:
    full_s, quick_s = SELF_TUNING_BUDGETS_S[base.name]
    full = Budget(10, epochs=EPOCH_CAP, expensive_seeds=expensive_seeds, first_seed=FIRST_SEED, time_budget_s=full_s)
    quick = Budget(2, epochs=EPOCH_CAP, first_seed=FIRST_SEED, time_budget_s=quick_s)
    return _workload(base, "self_tuning", full, quick, criterion, tuned=False)


SELF_TUNING = Track(
    comparison_results.SELF_TUNING,
    "self-tuning track (every optimiser at its defaults, one wall-clock budget per workload)",
    (*(_self_tuning(base, Criterion.CONVERGENCE, None) for base in (*chapter5.TABLE_5_1, chapter5.XOR)),
     _self_tuning(chapter5.MNIST1D, Criterion.ACCURACY, expensive_seeds=5)),
    tuned=False, targets_from=TUNED)

TRACKS = {track.name: track for track in (TUNED, SELF_TUNING)}
