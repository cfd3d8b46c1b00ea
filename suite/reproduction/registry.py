"""How an optimiser is shown in the reproduction's tables and figures: its label, colour and line
style, the number the thesis printed for it, and its family (first-order, quasi-Newton, second-order).

The one place for these facts. An optimiser it does not know — one added by a config file and a
sweep spec — is shown all the same: its name as label, the next colour of a cycle of the colours
no known optimiser uses (then the next line style), and "—" where the thesis printed no number; its
family is unknown until it is declared in :data:`KNOWN`.
"""
from __future__ import annotations

import dataclasses
import enum

from suite.reproduction import thesis

TAB10 = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
         "tab:olive", "tab:cyan")  # matplotlib's default cycle, C0–C9
LINE_STYLES = ("-", "--", ":", "-.")
NO_NUMBER = "—"  # the thesis left the cell blank, or has no such cell


class Family(str, enum.Enum):
    """What an optimiser computes per step — which decides its role in the comparison protocol."""

    # One gradient per step: the baselines that set targets (AlgoPerf). The learning-rate-free methods (Prodigy,
    # D-Adaptation, Schedule-Free) are first-order too — they estimate a step size from gradients alone — and
    # set targets by the same rule: no role depends on whether an optimiser has a learning rate to tune.
    FIRST_ORDER = "first-order"
    QUASI_NEWTON = "quasi-Newton"  # gradients only, curvature from their history and a line search
    HESSIAN_DIAGONAL = "Hessian-diagonal"  # a Hutchinson estimate of diag(H) from an HVP now and then
    SECOND_ORDER = "second-order"  # several Hessian-vector products per step: a run costs many gradients


@dataclasses.dataclass(frozen=True)
class Look:
    """How an optimiser is shown, and its family: first-order optimisers set the comparison's targets
    (AlgoPerf's target-setting algorithms are all first-order); second-order ones are "expensive" cells.
    An optimiser without a family is never a baseline and never expensive."""

    label: str
    colour: str
    line_style: str = "-"
    family: "Family | None" = None


KNOWN = {
    "msgd": Look("MSGD", "tab:blue", family=Family.FIRST_ORDER),
    "adam": Look("Adam", "tab:orange", family=Family.FIRST_ORDER),
    "lbfgs": Look("LBFGS", "tab:green", family=Family.QUASI_NEWTON),
    "lbfgs_single": Look("LBFGS (1 eval.)", "tab:green", family=Family.QUASI_NEWTON),  # never beside lbfgs: XOR has only this one
    "kryball": Look("KryBall", "tab:red", family=Family.SECOND_ORDER),
    "kryball_plus": Look("KryBall+", "tab:red", "--", Family.SECOND_ORDER),  # KryBall's colour, dashed: the thesis KryBall plus options
    "newton": Look("Newton", "tab:purple"),  # closed form (Fig. 2.12)
    "sfn": Look("saddle-free Newton", "tab:brown"),  # closed form (Fig. 4.2)
    # Peers beyond the thesis (conf/optim/): a family shares a colour, told apart by the line style,
    # so that two colours stay free for optimisers added by a config and a sweep spec alone.
    "adahessian": Look("AdaHessian", "tab:pink", family=Family.HESSIAN_DIAGONAL),  # Hutchinson diagonal of the Hessian
    "sophiah": Look("SophiaH", "tab:pink", "--", Family.HESSIAN_DIAGONAL),
    "soap": Look("SOAP", "tab:olive", family=Family.FIRST_ORDER),  # matrix (Kronecker-factored / orthogonalised) preconditioning
    "muon": Look("Muon", "tab:olive", "--", Family.FIRST_ORDER),
    "trust_krylov": Look("trust-region Newton–Krylov", "tab:purple", "--", Family.SECOND_ORDER),  # Newton's colour: never in Fig. 2.12
    # Learning-rate-free first-order methods, in the colour of the method each adapts (Adam's, MSGD's), told
    # apart from it by the line style — which keeps the two free colours free.
    "prodigy": Look("Prodigy", "tab:orange", "--", Family.FIRST_ORDER),
    "dadapt_adam": Look("D-Adapt Adam", "tab:orange", ":", Family.FIRST_ORDER),
    "schedule_free_adamw": Look("Schedule-Free AdamW", "tab:orange", "-.", Family.FIRST_ORDER),
    "dadapt_sgd": Look("D-Adapt SGD", "tab:blue", "--", Family.FIRST_ORDER),
}


def cycled(i: int, colours: tuple[str, ...] = TAB10) -> tuple[str, str]:
    """The i-th (colour, line style) of a cycle: every colour solid, then every colour dashed, …"""
    return colours[i % len(colours)], LINE_STYLES[i // len(colours) % len(LINE_STYLES)]


class Registry:
    """Known looks, and for any other optimiser one made on first request and kept, so that it is
    drawn alike in every figure of a report."""

    def __init__(self, known: dict[str, Look]):
        self.known = dict(known)
        self.free = tuple(c for c in TAB10 if c not in {look.colour for look in known.values()}) or TAB10
        self.made: dict[str, Look] = {}

    def look(self, optim: str) -> Look:
        if optim in self.known:
            return self.known[optim]
        if optim not in self.made:
            self.made[optim] = Look(optim, *cycled(len(self.made), self.free))
        return self.made[optim]


OPTIMISERS = Registry(KNOWN)


def look(optim: str) -> Look:
    return OPTIMISERS.look(optim)


def label(optim: str) -> str:
    return look(optim).label


def thesis_number(setting: str, optim: str, metric: str | None = None) -> str:
    """The thesis's printed number for a cell (Table 5.2: one of its ``metric`` columns), or "—"."""
    printed = thesis.PRINTED.get(setting, {}).get(optim, {})
    if metric is not None:
        printed = printed.get(metric) if isinstance(printed, dict) else None
    return printed if isinstance(printed, str) else NO_NUMBER


def family(optim: str) -> Family | None:
    """The optimiser's family, None for one not declared."""
    return look(optim).family
