"""The ablation of KryBall's options beyond the thesis (docs/results.md, "Beyond the thesis"), declared once.

For each ablation task (MNIST-1D, the five Table 5.1 problems, XOR) an :class:`Ablation` names its
settings: the task's own (tuned Adam, MSGD, LBFGS, the thesis KryBall and tuned KryBall+ — the very
runs of Table 5.1/5.2 and XOR, shared), the thesis KryBall with the task's tuned M and r plus one
option each, KryBall+ as it ships, and on MNIST-1D tuned Adam run long enough to be read at
KryBall+'s wall-clock — the equal-compute comparison. ``ablation.py`` builds its tables and figures
from these objects; nothing rebuilds a setting's name from a pattern.
"""
from __future__ import annotations

import dataclasses

from suite.reproduction.chapter5 import MNIST1D, TABLE_5_1, XOR
from suite.reproduction.setting import Setting

THESIS_KRYBALL = "kryball"
KRYBALL_PLUS = "kryball_plus"  # the winning combination (conf/optim/kryball_plus.yaml)

# Each option added to the thesis KryBall alone; no option is tuned on its own. The options the ablation rejected (the
# Adam preconditioner, momentum from steps, the first-order fallback, the hybrid switch, the early refresh after a
# poor model) and the interleaved first-order steps, which the self-tuning track rejected, were removed from KryBall;
# their rows stay in docs/results.md with the commit that had them.
ABLATION_OPTIONS = (
    ("adam_direction", ("++optim.directions=[adam]",)),
    ("previous_step", ("++optim.directions=[previous_step]",)),
)
LONG_ADAM = 40  # the equal-wall-clock Adam runs this many times the epochs (KryBall+ costs 20–30× Adam here)


@dataclasses.dataclass(frozen=True)
class Arm:
    """One KryBall+ row of an ablation table: the setting whose ``kryball_plus`` runs it shows, and its name."""

    setting: Setting
    label: str


@dataclasses.dataclass(frozen=True)
class Ablation:
    base: Setting                   # the task's own setting: the tuned baselines, thesis KryBall, tuned KryBall+
    options: Setting                # the thesis KryBall with the task's tuned M and r, plus one option each
    plus_defaults: Setting          # `python train.py task=… optim=kryball_plus` as it ships
    adam_long: Setting | None = None  # tuned Adam for LONG_ADAM× the epochs (MNIST-1D)

    @property
    def settings(self) -> tuple[Setting, ...]:
        """Every setting of this ablation, in table order (the task's own first)."""
        return tuple(s for s in (self.base, self.options, self.plus_defaults, self.adam_long) if s is not None)

    @property
    def kryball_plus(self) -> tuple[Arm, Arm]:
        """KryBall+ tuned (the task's own kryball_plus row, tuned by its sweep) and at its defaults."""
        return (Arm(self.base, "KryBall+ (optim=kryball_plus, tuned)"),
                Arm(self.plus_defaults, "KryBall+ (optim=kryball_plus, its shipped defaults)"))


def _ablation(base: Setting, long_adam: bool = False) -> Ablation:
    same = dict(overrides=base.overrides, full=base.full, quick=base.quick, thesis_epochs=base.thesis_epochs,
                sweep_task=base.name, tuned_from=base.tuned_from)
    adam_long = None
    if long_adam:
        longer = {key: dataclasses.replace(same[key], epochs=LONG_ADAM * (same[key].epochs or base.thesis_epochs))
                  for key in ("full", "quick")}
        adam_long = Setting(f"adam_long_{base.name}", f"{base.label}: Adam, {LONG_ADAM}× the epochs",
                            optims=("adam",), **{**same, **longer})
    return Ablation(
        base=base,
        options=Setting(f"ablation_{base.name}", f"{base.label}: thesis KryBall + one option",
                        optims=(THESIS_KRYBALL,), options=ABLATION_OPTIONS, **same),
        # A sweep on one seed can pick a lucky M, r: the shipped defaults are a row of their own.
        plus_defaults=Setting(f"kryball_plus_defaults_{base.name}", f"{base.label}: KryBall+ at its defaults",
                              optims=(KRYBALL_PLUS,), tunable=False, **same),
        adam_long=adam_long)


ABLATIONS = (_ablation(MNIST1D, long_adam=True), *map(_ablation, TABLE_5_1), _ablation(XOR))
