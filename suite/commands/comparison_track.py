"""The ``comparison`` target's steps beyond running its plan (``suite/commands/reproduce.py`` calls them):
its track's report, where the self-tuning track's targets come from, the per-run results it writes and
publishes, and a report rebuilt from them alone (``--from-results``, ``--write-docs``).

Where a track's targets are set (``Track.targets_from``; the self-tuning track's are the tuned track's, as
AlgoPerf's rulesets share theirs), first found first: the other track's committed per-run results
(``--results-dir``), then its runs under ``--out`` (finished before, with their very config; nothing is
run for them), then the track's own first-order runs — the targets table says which.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Callable

from suite import comparison_results
from suite.records import Records
from suite.reproduction import comparison, docs_block, per_run, run_plan, runner
from suite.reproduction.comparison_settings import TRACKS, Track, Workload
from suite.reproduction.setting import SWEEPS_DIR
from suite.sweeps.backend import repo_relative


def track_of(args: argparse.Namespace) -> Track:
    return TRACKS[args.track]


def suffix(track: Track, quick: bool) -> str:
    """The report files' infix: ``.self_tuning``, ``.tuned.quick``, …"""
    return f".{track.name}{'.quick' if quick else ''}"


def sources_from(args: argparse.Namespace, other: Track, task: str, own: Callable[[], Records],
                 common: list[str]) -> list:
    """``[(what, runs), ...]`` for ``targets.target_from``: the ``other`` track's runs of ``task`` (committed, then
    finished under ``--out``: module docstring), then ``own`` — those of the workload whose target is set."""
    theirs = other.workload(task)
    if theirs is None:
        return [("this track's own first-order runs", own)]
    committed = comparison_results.path(args.results_dir, other.name, task)
    mode = "quick" if args.quick else "full"
    # The other track's runs are the protocol's: a --set variant measured here (a lever) is not theirs.
    protocol = [override for override in common if override not in args.overrides]

    def their_runs() -> Records:
        plan = run_plan.plan(["comparison"], args.out, args.quick, args.seeds, protocol, only=[theirs.setting.name],
                             track=other.name)
        return runner.finished_records(plan.specs)

    return [
        (f"the {other.name} track's committed per-run results ({repo_relative(committed)})",
         lambda: per_run.loaded_records(other, task, args.results_dir) or Records()),
        (f"the {other.name} track's runs under {repo_relative(args.out / 'runs' / mode)}", their_runs),
        (f"this track's own first-order runs (no {other.name}-track results were found)", own),
    ]


def target_sources(args: argparse.Namespace, track: Track, records: Records,
                   common: list[str]) -> Callable[[Workload], list] | None:
    """``workload -> [(what, runs), ...]`` for ``targets.target_from`` (module docstring); None for a track that
    sets its own targets."""
    if track.targets_from is None:
        return None
    return lambda workload: sources_from(args, track.targets_from, workload.task,
                                         lambda: records.where(setting=workload.setting.name), common)


def report(args: argparse.Namespace, plan: run_plan.Plan, records: Records, common: list[str],
           header: Callable[[list[str]], list[str]]) -> list[pathlib.Path]:
    """The track's report from this plan's runs, its per-run results under ``--out`` (``per_run/<mode>/``),
    and with ``--publish`` under ``--results-dir``."""
    track = track_of(args)
    workloads = [w for w in track.workloads if w.setting.name in plan.planned]
    measured = comparison.measure(records, workloads, track, args.quick,
                                  target_sources(args, track, records, common))
    written = comparison.write(measured, workloads, track, args.out, suffix(track, args.quick), header,
                               plan.sweeps_dir)
    written += per_run.publish(measured, workloads, track, args.out / "per_run" / ("quick" if args.quick else "full"))
    if args.publish:
        written += per_run.publish(measured, workloads, track, args.results_dir)
    return written


def from_results(args: argparse.Namespace) -> int:
    """Rebuild the track's report (and with ``--write-docs`` its block of docs/results.md) from its per-run
    results alone."""
    track = track_of(args)
    try:
        measured = per_run.load(track, args.results_dir)
    except comparison_results.FormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    workloads = comparison.with_runs(measured.records, list(track.workloads))
    index = comparison_results.read_index(args.results_dir, track.name)
    published = sorted({entry.get("published", "?") for entry in index.values()}) or ["?"]

    def header(names: list[str]) -> list[str]:
        return [(f"Rebuilt from the per-run results in {repo_relative(args.results_dir / track.name)} "
                 f"(`--from-results`; published {', '.join(published)}; where they ran: its index.json)."),
                *(run_plan.describe(run_plan.SETTINGS[name], args.quick, None, SWEEPS_DIR) for name in names)]

    written = comparison.write(measured, workloads, track, args.out, suffix(track, args.quick), header, SWEEPS_DIR)
    if args.write_docs:
        docs_block.write(track.name, comparison.markdown_block(measured, workloads, track, SWEEPS_DIR), args.docs)
        written.append(args.docs)
    for path in written:
        print(f"wrote {path}")
    return 0
