"""The default protocol: anchors, search, re-runs on further seeds, best mean wins (docs/sweeps.md,
"Protocols").

The thesis's sweep (§5.2.5) picks the single best run of 20 on one seed, ranked on the test set,
with Hyperband stopping slow starters at epoch 10. On MNIST-1D that "tuned" Adam ended below a
single untuned run at lr = 3e-3. This protocol follows the established practice instead —
AlgoPerf (re-run the best setting on several seeds "to prevent selecting a lucky outlier"),
DeepOBS (re-run the selected setting on 10 seeds), Choi et al. 2019 (tune the whole space):

1. **Anchors** run first: the optimiser's library defaults (its ``conf/optim`` values of the
   searched parameters, moved into the space if outside), the values the thesis states
   (``anchors`` in ``sweep_sources/spaces/<optim>.yaml``) and the thesis protocol's winner for the
   same spec where one is committed (``conf/tuned/thesis/``), so the search always holds them.
2. **Search**: the spec's Bayesian search on the search seed, every trial at the full budget —
   no early stopping, so the ranking is the ranking of full runs (and Optuna's Gaussian process,
   which fits only finished trials, learns from every trial).
3. **Re-runs**: the ``top_k`` distinct settings of the search, and the defaults anchor wherever it
   ranked, each on ``seeds`` (further seeds, not the search seed) at the full budget.
4. **Selection**: the best *mean* of the spec's metric over those seeds wins. The search seed is
   left out of the mean: a trial reached the top partly by its luck on that seed.

``--trials N`` is the search's size, anchors included: the same command again continues a killed
study up to N trials and reuses finished re-runs (and re-selects without training when all is
there); a larger N extends the search.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import pathlib
import statistics
import time

from omegaconf import OmegaConf

from suite import dispatch
from suite.run_record import read_summary

from . import reruns as reruns_mod
from . import sources, tuned
from . import tuned_results
from .backend import (
    Anchor, Backend, NoBestRun, Option, Search, SearchTrial, Sweep, positive_int, prepare, repo_relative,
)
from .hydra_overrides import format_override
from .objective import trial_value, worst
from .space import clip
from .spec import SpecError, load, parse
from .tuning_protocol import Outcome, Protocol

DEFAULTS = "defaults"  # the library defaults anchor's name
# An earlier tuning of the same spec that anchors this one: the thesis protocol's winners.
EARLIER_DIR = tuned.TUNED_DIR / "thesis"


def seed_list(text: str) -> tuple[int, ...]:
    """An argparse type: distinct comma-separated integer seeds (``1,2,3``)."""
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds repeat: {text}")
    return seeds


def _values(sweep: Sweep, config) -> dict:
    """The searched parameters' values in ``config``, moved into the space where outside it."""
    values = {}
    for name, dist in sweep.space.searched.items():
        value = clip(dist, OmegaConf.select(config, name))
        if value is not None:  # a categorical parameter without its default among the choices is sampled
            values[name] = value
    return values


def anchors(sweep: Sweep, earlier_dir: pathlib.Path = EARLIER_DIR) -> list[Anchor]:
    """The library defaults; the thesis-stated values of the spec's space (the defaults with those
    values changed); and the winner of the thesis protocol's sweep of this spec where one is
    committed (``conf/tuned/thesis/<task>_<optim>.yaml``), so that this protocol can never end below
    an earlier tuning. Settings that coincide run once."""
    defaults = _values(sweep, sweep.base)
    found = [Anchor(DEFAULTS, defaults)]
    space = sources.space_of(sweep.spec.path)
    for anchor in space.anchors if space is not None else ():
        params = {**defaults, **{k: v for k, v in anchor.values.items() if k in sweep.space.searched}}
        if all(params != a.params for a in found):
            found.append(Anchor(anchor.source, params))
    earlier = tuned.path(sweep.spec.task, sweep.spec.optim, earlier_dir)
    if earlier.is_file():
        params = _values(sweep, OmegaConf.merge(sweep.base, OmegaConf.load(earlier)))
        if all(params != a.params for a in found):
            found.append(Anchor(f"the thesis protocol's winner ({repo_relative(earlier)})", params))
    return found


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A setting re-run on the selection seeds: its runs and what each scored."""

    trial: SearchTrial
    runs: tuple[reruns_mod.Done, ...]  # one per seed, in the seeds' order
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        """The selection statistic; a failed or diverged seed (the worst value) makes it the worst."""
        return statistics.fmean(self.values) if all(map(math.isfinite, self.values)) else \
            next(v for v in self.values if not math.isfinite(v))

    @property
    def spread(self) -> float:
        finite = len(self.values) > 1 and all(map(math.isfinite, self.values))
        return statistics.stdev(self.values) if finite else 0.0

    @property
    def label(self) -> str:
        return f"trial {self.trial.number}" + (f" ({self.trial.anchor})" if self.trial.anchor else "")


def candidates(search: Search, top_k: int) -> list[SearchTrial]:
    """The ``top_k`` best distinct settings of the search, then the defaults anchor if it is not
    among them (so the winner is compared with the defaults on the same seeds)."""
    chosen: list[SearchTrial] = []
    for trial in search.trials:  # best first
        if len(chosen) < top_k and all(trial.params != c.params for c in chosen):
            chosen.append(trial)
    defaults = next((t for t in search.trials if t.anchor == DEFAULTS), None)
    if defaults is not None and all(defaults.params != c.params for c in chosen):
        chosen.append(defaults)
    return chosen


def describe(chosen: list[SearchTrial]) -> str:
    """``the best 3 settings of the search and the defaults`` (the defaults come last when added)."""
    added = len(chosen) > 1 and chosen[-1].anchor == DEFAULTS
    best = len(chosen) - added
    return f"the best {best} setting{'s' * (best > 1)} of the search" + (" and the defaults" if added else "")


def rerun_overrides(sweep: Sweep, params: dict, seed: int) -> tuple[str, ...]:
    """What the search trial ran, on ``seed`` instead of the search seed."""
    fixed = [o for o in sweep.trial_overrides if not o.startswith("seed=")]
    return (*fixed, f"seed={seed}", *(format_override(k, v) for k, v in params.items()))


class RobustProtocol(Protocol):
    name = "robust"
    options = (
        Option("--top-k", "search trials re-run on further seeds (default: sweep_sources/protocol.yaml, 3)",
               type=positive_int),
        Option("--seeds", "comma-separated re-run seeds; their mean selects (default: protocol.yaml, 1,2,3)",
               type=seed_list),
    )
    instead = "the thesis protocol re-runs nothing: it takes its best trial on the search seed"

    def prepare(self, spec_path: pathlib.Path, overrides: list[str]) -> Sweep:
        spec = load(spec_path)
        if spec.hyperband is not None:  # a hand-written spec: this protocol stops no run early
            print(f"{spec.path.name}: early_terminate is ignored; the default protocol stops no run "
                  "early (docs/sweeps.md)")
            spec = parse({k: v for k, v in spec.raw.items() if k != "early_terminate"}, spec.path)
        return prepare(spec, overrides)

    def run(self, sweep: Sweep, backend: Backend, trials: int | None, args: argparse.Namespace) -> Outcome:
        spec, settings = sweep.spec, sources.load_protocol().robust
        top_k, seeds = args.top_k or settings.top_k, tuple(args.seeds or settings.seeds)
        search_seed = int(sweep.base.seed)
        if search_seed in seeds:
            raise SpecError("--seeds", f"must differ from the search seed {search_seed}: the search's "
                                       "winners are partly its luck on that seed")
        study_name = getattr(args, "study_name", None) or f"{spec.study_name}-{self.name}"
        args = argparse.Namespace(**{**vars(args), "study_name": study_name})
        started = time.monotonic()
        planted = anchors(sweep)
        search = backend.search(sweep, trials or sweep.trials_default, args, planted)
        searched = time.monotonic()
        if not search.trials:
            raise NoBestRun("no search trial completed: nothing to re-run or write")
        scored = self.rerun(sweep, search, candidates(search, top_k), seeds, dispatch.Workers.of(args))
        sign = 1 if spec.metric.goal == "minimize" else -1
        winner = min(scored, key=lambda c: sign * c.mean)  # a tie goes to the higher search rank
        finished = time.monotonic()
        _print_table(search.study, spec.metric.name, seeds, scored, winner)
        durations = tuned_results.Durations(round(searched - started, 1), round(finished - searched, 1),
                                            round(finished - started, 1))
        return self.outcome(sweep, search, planted, scored, winner, seeds, durations)

    def rerun(self, sweep: Sweep, search: Search, chosen: list[SearchTrial],
              seeds: tuple[int, ...], workers: dispatch.Workers) -> list[Candidate]:
        """Re-run (or reuse) every chosen setting on every seed; score each run."""
        metric, goal, study = sweep.spec.metric.name, sweep.spec.metric.goal, search.study
        jobs = [reruns_mod.Rerun(rerun_overrides(sweep, t.params, seed),
                                 search.out_dir / "reruns" / f"trial_{t.number:04d}_seed{seed}")
                for t in chosen for seed in seeds]
        print(f"[{study}] re-running {describe(chosen)} on seeds {', '.join(map(str, seeds))} at "
              f"{sweep.epochs} epochs: {len(jobs)} runs on {workers}", flush=True)

        def score(done: reruns_mod.Done) -> float:
            if done.error or done.summary is None:
                return worst(goal)
            return trial_value(metric, goal, done.summary, sweep.epochs)

        def say(i: int, done: reruns_mod.Done) -> None:
            trial, seed = chosen[i // len(seeds)], seeds[i % len(seeds)]
            how = "reused" if done.reused else (f"failed: {done.error}" if done.error else
                                                f"{(done.summary or {}).get('wall_time_s', 0):.1f} s")
            print(f"[{study}] re-run of trial {trial.number} on seed {seed}: {metric} {score(done):.6g} ({how})",
                  flush=True)

        dones = reruns_mod.run_all(jobs, workers, say, folder=search.out_dir / "submitit")
        n = len(seeds)
        return [Candidate(t, tuple(dones[i * n:(i + 1) * n]), tuple(map(score, dones[i * n:(i + 1) * n])))
                for i, t in enumerate(chosen)]

    def outcome(self, sweep: Sweep, search: Search, planted: list[Anchor], scored: list[Candidate],
                winner: Candidate, seeds: tuple[int, ...], durations: tuned_results.Durations) -> Outcome:
        spec, search_seed = sweep.spec, int(sweep.base.seed)
        metric, seeds_said = spec.metric.name, ", ".join(map(str, seeds))
        training = sum((d.summary or {}).get("wall_time_s") or 0.0 for c in scored for d in c.runs) + \
            sum(_training_time(t.run_dir) for t in search.trials)
        finite = tuned_results.finite
        results = tuned_results.TunedResults(
            protocol=self.name, spec=repo_relative(spec.path), study=search.study,
            overrides=tuple(sweep.extra_overrides),
            metric=tuned_results.ScoredMetric(metric, spec.metric.goal),
            params=winner.trial.params,
            selection=tuned_results.Selection("mean", seeds, finite(winner.mean), winner.trial.number),
            seeds=tuple(tuned_results.seed_entry(seed, value, done.summary)
                        for seed, value, done in zip(seeds, winner.values, winner.runs)),
            candidates=tuple(tuned_results.CandidateResult(c.trial.number, c.trial.anchor, c.trial.params,
                                                           finite(c.trial.value), finite(c.mean),
                                                           tuple(finite(v) for v in c.values)) for c in scored),
            search=tuned_results.SearchResult(len(search.trials), search_seed, sweep.epochs,
                                              tuple(tuned_results.AnchorResult(a.name, a.params) for a in planted)),
            setting=tuned_results.setting(sweep.base),
            duration_s=durations,
            training_s=round(training, 1),
        )
        first = winner.runs[0].summary
        header = (
            f"Robust protocol (docs/sweeps.md) of {search.provenance}: {len(search.trials)} search trials "
            f"on seed {search_seed}, anchors included; {len(scored)} settings re-run on seeds {seeds_said}",
            f"Winner: {winner.label}, mean {metric} = {winner.mean:.6g} over seeds {seeds_said} "
            f"(search seed {search_seed}: {winner.trial.value:.6g})",
            f"Re-runs: {repo_relative(first['run_dir']) if first else 'none'} and its other seeds",
        )
        device = next((d.summary.get("device") for d in winner.runs if d.summary), None)
        return Outcome(winner.trial.params, winner.mean, f"mean {metric} over seeds {seeds_said} = {winner.mean:.6g}",
                       header, tuned_results.stamp(results, device))


def _training_time(run_dir: pathlib.Path) -> float:
    summary = read_summary(run_dir)
    return summary.wall_time_s if summary is not None and summary.wall_time_s else 0.0


def _print_table(study: str, metric: str, seeds: tuple[int, ...], scored: list[Candidate], winner: Candidate) -> None:
    print(f"[{study}] {metric} on seeds {', '.join(map(str, seeds))} (mean ± std), search seed value, settings:")
    for c in scored:
        settings = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in c.trial.params.items())
        print(f"  {'*' if c is winner else ' '} {c.label}: {c.mean:.4g} ± {c.spread:.2g}; "
              f"search {c.trial.value:.4g}; {settings}", flush=True)
