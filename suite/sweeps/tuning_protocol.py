"""How a sweep tunes: a protocol turns a spec into a tuned configuration on some backend
(docs/sweeps.md, "Protocols").

``scripts/sweep.py --protocol NAME`` picks one from ``suite.sweeps.choices``:

* ``robust`` (the default, :mod:`suite.sweeps.robust_protocol`): anchors, search, re-runs on
  further seeds, best mean wins;
* ``thesis`` (:mod:`suite.sweeps.thesis_protocol`): thesis §5.2.5's sweep exactly — Hyperband,
  one seed, selection on the test set — so the thesis reproduction stays exact.

A protocol may adapt the spec before it is checked (:meth:`Protocol.prepare`), declares its own
command-line options (refused with the other protocol, like a backend's), and returns an
:class:`Outcome`: the winner's values, the lines for the tuned file's header, and the content of
the results file written beside it (:mod:`suite.sweeps.tuned_results`). Where it is written is
:mod:`suite.sweeps.publish`'s decision, the same for every protocol.
"""
from __future__ import annotations

import abc
import argparse
import dataclasses
import pathlib
from typing import ClassVar

from .backend import Backend, Option, Sweep, prepare
from .tuned_results import TunedResults


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a protocol chose and how."""

    params: dict[str, object]  # the winner's values by Hydra override key
    value: float  # what selected it: the protocol's statistic of the spec's metric
    said: str  # how to print that value ("mean val_acc over seeds 1, 2, 3 = 0.64")
    header: tuple[str, ...]  # provenance lines for the tuned config
    results: TunedResults  # the results file's content, before publish names it


class Protocol(abc.ABC):
    """Runs a checked sweep on a backend and says what it chose."""

    name: ClassVar[str]  # the value of --protocol
    options: ClassVar[tuple[Option, ...]] = ()  # refused when the other protocol is chosen
    instead: ClassVar[str] = ""  # said when another protocol's option is given with this one
    # Where its tuned configs live under conf/tuned (``+tuned=<tuned_subdir>/<task>_<optim>``): the
    # protocols never replace each other's results.
    tuned_subdir: ClassVar[str] = ""

    def prepare(self, spec_path: pathlib.Path, overrides: list[str]) -> Sweep:
        """The spec as this protocol runs it, checked (raises ``SpecError``)."""
        return prepare(spec_path, overrides)

    @abc.abstractmethod
    def run(self, sweep: Sweep, backend: Backend, trials: int | None, args: argparse.Namespace) -> Outcome:
        """Tune ``sweep`` on ``backend``; ``trials`` is ``--trials`` (None: the spec's run_cap),
        ``args`` the command line. Raises ``NoBestRun`` when nothing can be chosen."""
