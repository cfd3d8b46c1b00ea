"""The ``map`` target of ``scripts/reproduce.py`` (``suite/commands/reproduce.py`` calls :func:`main`): the map of
where KryBall+ stands over regimes (``suite/reproduction/map_settings.py``, ``regime_map.py``; docs/results.md, "Where
KryBall stands: the map"), on the self-tuning track and the tuned one (``--track``: one of them).

Per track: plan the regimes' runs (``run_plan.cell_specs``: a regime that is a track's workload plans that track's very
runs, so they are shared), run or reuse them, set each regime's target — a declared threshold or a convergence
criterion, or MNIST-1D's accuracy target from the tuned track as the self-tuning track takes it (committed per-run
results, then the tuned track's finished runs under ``--out``, then the regime's own first-order runs:
``comparison_track.sources_from``) — measure every run's time to target within its budget, and draw the map. The
tuned track's map runs first, so that the self-tuning one finds its MNIST-1D runs.

Its per-run results (one file per track, the comparison's columns: ``suite/comparison_results.py``) go under
``OUT/per_run/<mode>/map/``, and with ``--publish`` under ``--results-dir``; ``--from-results`` draws the map from
them alone.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import pandas as pd

from suite import comparison_results as files
from suite import dispatch
from suite.records import Records
from suite.reproduction import per_run, regime_map, run_plan, runner, targets
from suite.reproduction.comparison import Measured
from suite.reproduction.comparison_settings import TUNED
from suite.reproduction.map_settings import MAPS, QUICK_SEEDS, SEEDS, Map, Regime
from suite.sweeps.backend import repo_relative

from . import comparison_track


def maps_of(args: argparse.Namespace) -> list[Map]:
    """The maps to draw: ``--track``'s, or both, the tuned one first."""
    return [MAPS[args.track]] if args.track else [MAPS[TUNED.name], *(m for n, m in MAPS.items() if n != TUNED.name)]


def seeds_of(regime: Regime, args: argparse.Namespace) -> int:
    """A regime's seeds: ``--seeds``, else the map's (fewer where its track's workload has fewer)."""
    if args.seeds is not None:
        return args.seeds
    return min(QUICK_SEEDS if args.quick else SEEDS, regime.workload.setting.budget(args.quick).seeds)


def plan(the_map: Map, args: argparse.Namespace, common: list[str]) -> list[run_plan.RunSpec]:
    """Every run of the map's regimes (those ``--only`` keeps)."""
    return [spec for regime in the_map.regimes for optim in regime.optims
            if run_plan.selected(regime.name, optim, args.only)
            for spec in run_plan.cell_specs(regime.workload.setting, optim, None, args.out, args.quick,
                                            seeds_of(regime, args), common)]


def measure(the_map: Map, records: Records, args: argparse.Namespace, common: list[str]) -> Measured:
    """Each regime's target and every run's time to target within its budget, for the regimes with runs."""
    found, times = [], []
    for regime in the_map.regimes:
        runs = records.where(setting=regime.name, optim=list(regime.optims))
        if runs.empty:
            continue

        def own(runs=runs) -> Records:
            return runs

        sources = (comparison_track.sources_from(args, TUNED, regime.target_from, own, common)
                   if regime.target_from else [("this regime's runs", own)])
        target = targets.target_from(regime.workload, sources)
        found.append(target)
        times.append(targets.run_times(runs, target, within_s=regime.workload.setting.budget(args.quick).training_s))
    names = [t.workload.setting.name for t in found]
    return Measured(records.where(setting=names), found,
                    pd.concat(times, ignore_index=True) if times else pd.DataFrame(columns=targets.TIME_COLUMNS))


def suffix(the_map: Map, quick: bool) -> str:
    return f".{the_map.track.name}{'.quick' if quick else ''}"


def regime_lines(the_map: Map, measured: Measured, args: argparse.Namespace) -> list[str]:
    """How each regime with runs ran: its setting, budget and the map's seeds (the reports' header lines)."""
    ran = {t.workload.setting.name for t in measured.targets}
    return [f"{regime.family} {regime.value} — "
            + run_plan.describe(regime.workload.setting, args.quick, seeds_of(regime, args))
            for regime in the_map.regimes if regime.name in ran]


def publish(measured: Measured, the_map: Map, folder: pathlib.Path) -> pathlib.Path:
    """Every run of the map on its track as one per-run results file."""
    ran = {t.workload.setting.name for t in measured.targets}
    rows = [row for regime in the_map.regimes if regime.name in ran
            for row in per_run.rows_of(measured, regime.workload)]
    path = files.map_path(folder, the_map.track.name)
    files.write(path, rows)
    return path


def load(the_map: Map, folder: pathlib.Path) -> Measured:
    """The map's :class:`Measured` from its per-run results file (raises ``files.FormatError`` without one)."""
    path = files.map_path(folder, the_map.track.name)
    if not path.is_file():
        raise files.FormatError(f"{path}: no per-run results of the map on the {the_map.track.name} track (written "
                                f"by `python scripts/reproduce.py map --track {the_map.track.name} --publish`)")
    rows = files.read(path)
    frames, found, times = [], [], []
    for regime in the_map.regimes:
        mine = [row for row in rows if row["setting"] == regime.name]
        if not mine:
            continue
        frame = per_run.frame_of(mine, files.MAP, regime.name)
        frames.append(frame)
        found.append(per_run.target_of_row(regime.workload, mine[0]))
        times.append(per_run.times_of(frame, regime.workload))
    if not frames:
        raise files.FormatError(f"{path}: no runs of the map's regimes")
    return Measured(Records(pd.concat(frames, ignore_index=True)), found, pd.concat(times, ignore_index=True))


def main(args: argparse.Namespace, common: list[str], protocol_line) -> int:
    """Run (or, with ``--from-results``, read) and draw each map; ``protocol_line(name)`` is the reports' first line."""
    mode = "quick" if args.quick else "full"
    maps = maps_of(args)
    if args.from_results:
        return from_results(args, maps)
    specs = {the_map.track.name: plan(the_map, args, common) for the_map in maps}
    if not any(specs.values()):
        print(f"error: --only {' '.join(args.only)} selects nothing of the map", file=sys.stderr)
        return 2
    workers = dispatch.Workers(args.jobs, args.executor, args.executor_options or ())
    written = []
    for the_map in maps:
        print(f"{len(specs[the_map.track.name])} runs of the map on the {the_map.track.name} track ({mode} protocol) "
              f"under {args.out / 'runs'}; finished runs are reused")
        records = runner.run_all(specs[the_map.track.name], workers=workers, folder=args.out / "submitit")
        measured = measure(the_map, records, args, common)
        lines = [protocol_line(f"the map of where KryBall stands, {the_map.track.name.replace('_', '-')} track"),
                 *regime_lines(the_map, measured, args)]
        written += regime_map.write(the_map, measured.targets, measured.times, measured.records, args.out,
                                    suffix(the_map, args.quick), lines)
        written.append(publish(measured, the_map, args.out / "per_run" / mode))
        if args.publish:
            written.append(publish(measured, the_map, args.results_dir))
    for path in written:
        print(f"wrote {path}")
    return 0


def from_results(args: argparse.Namespace, maps: list[Map]) -> int:
    """Draw each map from its per-run results alone (``--results-dir``)."""
    written = []
    for the_map in maps:
        try:
            measured = load(the_map, args.results_dir)
        except files.FormatError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        source = repo_relative(files.map_path(args.results_dir, the_map.track.name))
        lines = [f"Rebuilt from the per-run results in {source} (`--from-results`).",
                 *regime_lines(the_map, measured, args)]
        written += regime_map.write(the_map, measured.targets, measured.times, measured.records, args.out,
                                    suffix(the_map, args.quick), lines)
    for path in written:
        print(f"wrote {path}")
    return 0
