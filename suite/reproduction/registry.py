"""How an optimiser is shown in the reproduction's tables and figures: its label, colour and line
style, the number the thesis printed for it, and its family (first-order, quasi-Newton, second-order).

The one place for these facts. An optimiser it does not know — one added by a config file and a
sweep spec — is shown all the same: its name as label, the next colour of a cycle of the colours
no known optimiser uses (then the next line style), and "—" where the thesis printed no number; its
family is unknown until it is declared in :data:`FAMILIES`.
"""
from __future__ import annotations

import dataclasses
import enum

from suite.reproduction import thesis

TAB10 = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
         "tab:olive", "tab:cyan")  # matplotlib's default cycle, C0–C9
LINE_STYLES = ("-", "--", ":", "-.")
NO_NUMBER = "—"  # the thesis left the cell blank, or has no such cell


@dataclasses.dataclass(frozen=True)
class Look:
    label: str
    colour: str
    line_style: str = "-"


KNOWN = {
    "msgd": Look("MSGD", "tab:blue"),
    "adam": Look("Adam", "tab:orange"),
    "lbfgs": Look("LBFGS", "tab:green"),
    "lbfgs_single": Look("LBFGS (1 eval.)", "tab:green"),  # never beside lbfgs: XOR has only this one
    "kryball": Look("KryBall", "tab:red"),
    "kryball_plus": Look("KryBall+", "tab:red", "--"),  # KryBall's colour, dashed: the thesis KryBall plus options
    "newton": Look("Newton", "tab:purple"),  # closed form (Fig. 2.12)
    "sfn": Look("saddle-free Newton", "tab:brown"),  # closed form (Fig. 4.2)
    # Peers beyond the thesis (conf/optim/): a family shares a colour, told apart by the line style,
    # so that two colours stay free for optimisers added by a config and a sweep spec alone.
    "adahessian": Look("AdaHessian", "tab:pink"),  # Hutchinson diagonal of the Hessian
    "sophiah": Look("SophiaH", "tab:pink", "--"),
    "soap": Look("SOAP", "tab:olive"),  # matrix (Kronecker-factored / orthogonalised) preconditioning
    "muon": Look("Muon", "tab:olive", "--"),
    "trust_krylov": Look("trust-region Newton–Krylov", "tab:purple", "--"),  # Newton's colour: never in Fig. 2.12
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


class Family(str, enum.Enum):
    """What an optimiser computes per step — which decides its role in the comparison protocol."""

    FIRST_ORDER = "first-order"  # one gradient per step: the baselines that set targets (AlgoPerf)
    QUASI_NEWTON = "quasi-Newton"  # gradients only, curvature from their history and a line search
    SECOND_ORDER = "second-order"  # Hessian-vector products: a run costs many gradients


# A peer optimiser that should set targets (AlgoPerf's target-setting algorithms are all first-order)
# is declared here as FIRST_ORDER; one left out is never a baseline and never "expensive".
FAMILIES = {
    "msgd": Family.FIRST_ORDER,
    "adam": Family.FIRST_ORDER,
    "lbfgs": Family.QUASI_NEWTON,
    "lbfgs_single": Family.QUASI_NEWTON,
    "kryball": Family.SECOND_ORDER,
    "kryball_plus": Family.SECOND_ORDER,
}


def family(optim: str) -> Family | None:
    """The optimiser's family, None for one not declared."""
    return FAMILIES.get(optim)
