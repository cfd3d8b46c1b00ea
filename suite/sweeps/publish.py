"""Where a study's tuned config goes: never over another silently (docs/sweeps.md, "Where the
result is written").

The committed tuned config of a task and optimiser is ``conf/tuned/<task>_<optim>.yaml`` (what
``+tuned=<task>_<optim>`` and the reproduction use), with its per-seed results beside it
(:mod:`suite.sweeps.tuned_results`). A study writes there only

* when there is none yet, or
* when the committed one's results show the same protocol, spec, metric, budget, selection seeds
  and overrides (:func:`suite.sweeps.tuned_results.comparable`) and this study beat its value on them,
  or
* when asked to (``--replace``).

Otherwise it writes under its own name, ``<task>_<optim>_<study>`` (the study name less its
``<task>-<optim>`` prefix; the protocol's name when nothing is left), and keeps the committed one.
Every case is said in one line: what was written, what was kept, and why.
"""
from __future__ import annotations

import dataclasses
import pathlib
import re

from . import tuned, tuned_results
from ..config import shown
from .backend import Sweep
from .tuning_protocol import Outcome


@dataclasses.dataclass(frozen=True)
class Published:
    """Where the result went, and the line that says so."""

    tuned_file: pathlib.Path | None  # None: nothing written (the committed file already holds it)
    message: str  # one or two lines


def own_name(task: str, optim: str, study: str, protocol: str) -> str:
    """``<task>_<optim>_<study>``: the study's own tuned-file name, never the committed one's."""
    suffix = study.removeprefix(f"{task}-{optim}").strip("-_") or protocol
    return f"{task}_{optim}_{re.sub(r'[^A-Za-z0-9_]+', '_', suffix)}"


def better(new: float | None, old: float | None, goal: str) -> bool:
    if new is None:
        return False
    if old is None:
        return True
    return new < old if goal == "minimize" else new > old


def verdict(new: tuned_results.TunedResults, old: tuned_results.TunedResults | None) -> tuple[bool, str]:
    """Whether ``new`` may replace the committed result ``old``, and why (or why not)."""
    if old is None:
        return False, "it has no results file, so no study can show it beat it"
    mine, theirs = tuned_results.comparable(new), tuned_results.comparable(old)
    if mine != theirs:
        differ = [key for key in mine if mine[key] != theirs[key]]
        return False, f"it was tuned differently ({', '.join(f'{k} {theirs[k]}' for k in differ)})"
    goal, name = new.metric.goal, new.metric.name
    old_value, new_value = old.selection.value, new.selection.value
    seeds = ", ".join(map(str, new.selection.seeds))
    if not better(new_value, old_value, goal):
        return False, f"its {name} {old_value} on seeds {seeds} is at least this study's {new_value}"
    return True, f"same protocol and seeds {seeds}: {name} {old_value} -> {new_value}"


def publish(outcome: Outcome, sweep: Sweep, study: str, protocol: str, tuned_dir: pathlib.Path,
            replace: bool = False) -> Published:
    """Write the tuned config and its results file where the rules above say."""
    spec = sweep.spec
    committed = tuned.path(spec.task, spec.optim, tuned_dir)
    new = outcome.results
    kept = ""
    if not committed.exists():
        name, why = committed.stem, "new"
    elif replace:
        name, why = committed.stem, "replaced, as --replace asked"
    else:
        old = tuned_results.read(tuned_results.path_for(committed))
        ok, reason = verdict(new, old)
        if ok:
            name, why = committed.stem, f"replaced: {reason}"
        elif old is not None and old.params == new.params and old.study == new.study:
            return Published(None, f"tuned config: {shown(committed)} unchanged: it already holds "
                                   f"this study's result")
        else:
            name = own_name(spec.task, spec.optim, study, protocol)
            why = "this study's own name"
            kept = (f"\nkept {shown(committed)}: {reason}; --replace makes this study's result the "
                    "committed one")
    selection = sweep.selection()
    file = tuned.write(spec.task, spec.optim, outcome.params,
                       [*outcome.header, f"Per-seed results: {name}{tuned_results.SUFFIX} beside this file"],
                       selection, sweep.base, tuned_dir, name=name)
    tuned_results.write(tuned_results.path_for(file), dataclasses.replace(
        new, tuned=tuned.choice(file), use=tuned.usage(selection, tuned.choice(file))))
    return Published(file, f"tuned config: {shown(file)} ({why}; {tuned.how_to_use(file)}){kept}")
