"""The comparison protocol's workloads, declared once: Table 5.1's five function problems, XOR and
MNIST-1D, re-run for every optimiser with a sweep spec for the task (``kryball_plus`` and any peer
optimiser included) with more seeds, confidence intervals and time-to-target
(docs/results.md, "The comparison protocol"; ``comparison.py`` writes its report).

Each workload is a setting of its own (``comparison_<task>``), so its runs never mix with the
thesis-protocol runs of the same task, which stay as they were (the reproduction section); it
shares the task's overrides, sweep folder and thesis budget.

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

from suite.reproduction import chapter5
from suite.reproduction.setting import Budget, Setting

# The folder under conf/tuned/ the comparison's cells read their tuned configs from ("": conf/tuned/
# itself) — the robust tuning protocol's winners. If they move, change it here; the rule that maps a
# cell to its file is ``protocol.tuned_name``.
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


def _workload(base: Setting, full: Budget, quick: Budget, criterion: Criterion) -> Workload:
    # The default protocol's data: the task's validation split (the thesis's data is the thesis protocol's).
    overrides = tuple(o for o in base.overrides if o not in chapter5.THESIS_DATA)
    setting = dataclasses.replace(base, name=f"comparison_{base.name}", overrides=overrides, full=full,
                                  quick=quick, sweep_task=base.name, tuned_from=TUNED_FROM)
    return Workload(setting, criterion)


# Seeds from 100: beyond the sweeps' search seed (0) and re-run seeds (1–3) and the tuning checks
# (10–14, docs/sweeps.md), so no cell is scored on a seed its setting was selected on.
FIRST_SEED = 100

# 2000 one-step epochs take seconds here, so --quick keeps every budget and cuts seeds.
FUNCTIONS = tuple(_workload(base, Budget(10, first_seed=FIRST_SEED), Budget(3, first_seed=FIRST_SEED),
                            Criterion.CONVERGENCE)
                  for base in (*chapter5.TABLE_5_1, chapter5.XOR))
MNIST1D = _workload(chapter5.MNIST1D, Budget(10, expensive_seeds=5, first_seed=FIRST_SEED),
                    Budget(3, epochs=20, expensive_seeds=2, first_seed=FIRST_SEED), Criterion.ACCURACY)
WORKLOADS = (*FUNCTIONS, MNIST1D)
