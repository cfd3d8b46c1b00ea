"""What reports say of an optimiser, declared once in the ``suite:`` node of its ``conf/optim/<name>.yaml``: its
label, colour and line style, its family (first-order, quasi-Newton, Hessian-diagonal, second-order: its role in the
comparison protocol, docs/design.md §7) and the numbers thesis chapter 5 printed for it (docs/extending.md, "Adding
an optimiser")::

    suite:
      label: KryBall
      colour: tab:red          # a matplotlib colour
      line_style: "--"         # one of LINE_STYLES; default solid
      family: second-order     # one of Family's values
      thesis_printed:          # per setting (suite/reproduction/chapter5.py), summary fields as the thesis printed them
        - {setting: rosenbrock_u11, epochs_to_convergence: "5"}

:func:`declared` is the one reader of that node (the builder checks it too, and never passes it on); :func:`look`,
:func:`label`, :func:`family` and :func:`thesis_number` answer from it. An optimiser without a declaration — one added
by a config and a sweep spec alone — is shown all the same: its name as label, the next colour of a cycle of the
colours no declared optimiser uses (then the next line style), no family (never a baseline, never expensive) and "—"
where the thesis printed no number. None of this changes what a run computes: ``suite.checkpoint.comparable`` leaves
it out (:func:`without_presentation`).
"""
from __future__ import annotations

import dataclasses
import enum
import functools

from omegaconf import OmegaConf

from suite.config import CONF_DIR, compose_config
from suite.errors import ConfigError
from suite.run_record import OUTCOMES

TAB10 = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
         "tab:olive", "tab:cyan")  # matplotlib's default cycle, C0–C9
LINE_STYLES = ("-", "--", ":", "-.")
NO_NUMBER = "—"  # the thesis left the cell blank, or has no such cell
OPTIM_DIR = CONF_DIR / "optim"


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
    family: Family | None = None


@dataclasses.dataclass(frozen=True)
class Declared:
    """The node's keys that say how reports show the optimiser (None: not declared)."""

    label: str | None = None
    colour: str | None = None
    line_style: str | None = None
    family: Family | None = None
    # setting -> summary field -> the number as printed ("N/A": the thesis's divergence mark; "—": a blank cell).
    # A list in the YAML, so that a config built on another (kryball_plus on kryball) replaces it instead of adding
    # to it, as Hydra merges mappings and replaces lists.
    thesis_printed: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, node: dict | None) -> Declared:
        """This part of a ``suite:`` node (its other keys are the builder's), checked: one line per bad value."""
        node = node or {}
        found = {key: node[key] for key in KEYS if node.get(key) is not None}
        for key in ("label", "colour"):
            if key in found and not isinstance(found[key], str):
                raise ConfigError(f"optim.suite.{key}", f"must be a string, got {found[key]!r}")
        if found.get("line_style", "-") not in LINE_STYLES:
            raise ConfigError("optim.suite.line_style", f"must be one of {', '.join(LINE_STYLES)}, "
                                                        f"got {found['line_style']!r}")
        if "family" in found:
            try:
                found["family"] = Family(found["family"])
            except ValueError:
                raise ConfigError("optim.suite.family", f"must be one of {', '.join(f.value for f in Family)}, "
                                                        f"got {found['family']!r}") from None
        if "thesis_printed" in found:
            found["thesis_printed"] = _printed(found["thesis_printed"])
        return cls(**found)


KEYS = tuple(field.name for field in dataclasses.fields(Declared))


def _printed(entries) -> dict[str, dict[str, str]]:
    """``thesis_printed``'s list as setting -> field -> number, each entry checked."""
    key = "optim.suite.thesis_printed"
    if not isinstance(entries, list):
        raise ConfigError(key, f"must be a list of {{setting: …, <summary field>: \"…\"}}, got {entries!r}")
    printed = {}
    for entry in entries:
        numbers = dict(entry) if isinstance(entry, dict) else {}
        setting = numbers.pop("setting", None)
        if not isinstance(setting, str) or setting in printed:
            raise ConfigError(key, f"each entry names a setting of its own, got {entry!r}")
        wrong = [field for field, value in numbers.items() if field not in OUTCOMES or not isinstance(value, str)]
        if wrong or not numbers:
            raise ConfigError(key, f"{setting}: summary fields ({', '.join(OUTCOMES)}) with the numbers as printed, "
                                   f"quoted, got {entry!r}")
        printed[setting] = numbers
    return printed


# The closed forms of the thesis's saddle figures (Newton: Fig. 2.12; saddle-free Newton: Fig. 4.2): drawn beside
# runs (suite/reproduction/figures.py), but no optimiser of a run, so no config declares them.
CLOSED_FORMS = {
    "newton": Declared("Newton", "tab:purple"),
    "sfn": Declared("saddle-free Newton", "tab:brown"),
}


@functools.cache
def declared(optim: str) -> Declared:
    """What ``conf/optim/<optim>.yaml`` declares, as Hydra composes it (with the config it is built on); nothing for
    an optimiser without a config."""
    if optim in CLOSED_FORMS:
        return CLOSED_FORMS[optim]
    if not (OPTIM_DIR / f"{optim}.yaml").is_file():
        return Declared()
    node = OmegaConf.select(compose_config([f"optim={optim}"]), "optim.suite")
    return Declared.of(OmegaConf.to_container(node, resolve=True) if node is not None else None)


def every_declared() -> dict[str, Declared]:
    """Every config's declaration and the closed forms', by name."""
    return {**{path.stem: declared(path.stem) for path in sorted(OPTIM_DIR.glob("*.yaml"))}, **CLOSED_FORMS}


def cycled(i: int, colours: tuple[str, ...] = TAB10) -> tuple[str, str]:
    """The i-th (colour, line style) of a cycle: every colour solid, then every colour dashed, …"""
    return colours[i % len(colours)], LINE_STYLES[i // len(colours) % len(LINE_STYLES)]


class Looks:
    """The declared looks, and for an optimiser that declares no colour one made on first request and kept, so that
    it is drawn alike in every figure of a report."""

    def __init__(self, declarations: dict[str, Declared]):
        self.declarations = dict(declarations)
        taken = {d.colour for d in self.declarations.values() if d.colour}
        self.free = tuple(c for c in TAB10 if c not in taken) or TAB10
        self.made: dict[str, tuple[str, str]] = {}

    def look(self, optim: str) -> Look:
        d = self.declarations.get(optim) or declared(optim)
        if d.colour:
            return Look(d.label or optim, d.colour, d.line_style or "-", d.family)
        if optim not in self.made:
            self.made[optim] = cycled(len(self.made), self.free)
        return Look(d.label or optim, *self.made[optim], d.family)


@functools.cache
def _looks() -> Looks:
    return Looks(every_declared())


def look(optim: str) -> Look:
    return _looks().look(optim)


def label(optim: str) -> str:
    return declared(optim).label or optim


def family(optim: str) -> Family | None:
    """The optimiser's family, None for one not declared."""
    return declared(optim).family


def thesis_number(setting: str, optim: str, field: str) -> str:
    """The thesis's printed number for a cell (a summary ``field`` of a setting: ``epochs_to_convergence`` in Table
    5.1 and XOR, Table 5.2's three), or "—"."""
    return declared(optim).thesis_printed.get(setting, {}).get(field, NO_NUMBER)


def without_presentation(optim: dict) -> dict:
    """An optimiser config (a run's ``optim``, its phases included) without what it declares for reports, and without
    a ``suite:`` node that declared nothing else: what two runs must share to be the same run."""
    kept = {key: without_presentation(value) if isinstance(value, dict) else value for key, value in optim.items()}
    if isinstance(kept.get("suite"), dict):
        kept["suite"] = {key: value for key, value in kept["suite"].items() if key not in KEYS}
        if not kept["suite"]:
            del kept["suite"]
    return kept
