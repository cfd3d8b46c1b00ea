"""``--protocol thesis``: the sweep of thesis §5.2.5, exactly as the thesis reproduction needs it.

"Bayesian hyperparameter search combined with the Hyperband early stopping algorithm ... a
halving factor η = 3 ... a minimum iteration threshold of 10 epochs", 20 runs (§5.2.2) on one
seed, over the thesis's spaces. The spec holds the default protocol's search, so this protocol
adapts it before it is checked (:func:`thesis_spec`):

* Hyperband from ``sweep_sources/protocol.yaml`` (``thesis.hyperband``) becomes the spec's
  ``early_terminate``;
* the parameters the default protocol searches beyond the thesis's space (``beyond_thesis`` in
  ``sweep_sources/spaces/<optim>.yaml``: Adam's ε) are left at their defaults;
* a validation metric becomes its test counterpart on the whole training set
  (``task.validation_fraction=0``): the thesis has no validation split (§5.2.4 gives only the
  training/test split), so the held-out data its tuning could rank on was the test set.

The trials are then exactly the runs the sweeps made before the validation split existed, and
``--trials N`` runs N more of the same study (``<task>-<optim>``), as it always did. The best
trial's value on the search seed is the selection; its summary is the results file's one seed.
"""
from __future__ import annotations

import argparse
import copy
import pathlib
import time

from . import sources
from . import tuned_results
from .backend import Backend, Sweep, prepare, repo_relative
from .objective import VALIDATION
from .spec import ARGS_MACRO, Spec, load, parse
from .tuning_protocol import Outcome, Protocol

# The thesis's data: the whole training set, every batch of it (tasks/classification.py).
WHOLE_TRAINING_SET = ("task.validation_fraction=0", "task.drop_last=false")


def thesis_spec(spec: Spec, settings: sources.ThesisSettings, beyond_thesis: dict) -> Spec:
    """``spec`` as the thesis swept: its Hyperband, its space, its metric (see the module docstring)."""
    raw = copy.deepcopy(spec.raw)
    raw["early_terminate"] = {"type": "hyperband", "eta": settings.hyperband.eta,
                              "min_iter": settings.hyperband.min_iter}
    raw["parameters"] = {name: p for name, p in raw["parameters"].items() if name not in beyond_thesis}
    if raw["metric"]["name"] in VALIDATION:
        raw["metric"]["name"] = "test_" + raw["metric"]["name"].removeprefix("val_")
        raw["command"] = [*raw["command"][:-1], *WHOLE_TRAINING_SET, ARGS_MACRO]
    return parse(raw, spec.path)


class ThesisProtocol(Protocol):
    name = "thesis"
    tuned_subdir = "thesis"
    instead = "the thesis protocol selects its single best trial on the search seed"

    def prepare(self, spec_path: pathlib.Path, overrides: list[str]) -> Sweep:
        spec = load(spec_path)
        space = sources.space_of(spec.path)
        beyond = space.beyond_thesis if space is not None else {}
        return prepare(thesis_spec(spec, sources.load_protocol().thesis, beyond), overrides)

    def run(self, sweep: Sweep, backend: Backend, trials: int | None, args: argparse.Namespace) -> Outcome:
        spec, started = sweep.spec, time.monotonic()
        best = backend.run(sweep, trials or sweep.trials_default, args)
        seed = int(sweep.base.seed)
        summary = best.summary or {}
        took = time.monotonic() - started
        results = tuned_results.TunedResults(
            protocol=self.name, spec=repo_relative(spec.path),
            study=getattr(args, "study_name", None) or spec.study_name, overrides=tuple(sweep.extra_overrides),
            metric=tuned_results.ScoredMetric(spec.metric.name, spec.metric.goal),
            params=best.params,
            selection=tuned_results.Selection("single run", (seed,), tuned_results.finite(best.value), None),
            seeds=(tuned_results.seed_entry(seed, best.value, summary),),
            search=tuned_results.SearchResult(trials or sweep.trials_default, seed, sweep.epochs),
            setting=tuned_results.setting(sweep.base),
            duration_s=tuned_results.Durations(round(took, 1), 0.0, round(took, 1)),
            training_s=tuned_results.finite(summary.get("wall_time_s")),
        )
        value = float(best.value) if isinstance(best.value, (int, float)) else float("nan")
        return Outcome(best.params, value, f"best {spec.metric.name} = {_shown(best.value)}",
                       (*best.provenance, "Protocol: thesis §5.2.5 (scripts/sweep.py --protocol thesis)"),
                       tuned_results.stamp(results, summary.get("device")))


def _shown(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
