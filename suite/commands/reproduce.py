"""Reproduce the thesis's tables and figures (chapter 5) by running train.py's code path, compare the
optimisers under the comparison protocol (target ``comparison``), and map where KryBall+ stands over
regimes (target ``map``).

The program behind ``scripts/reproduce.py`` (its docstring has the usage; docs/results.md the
protocols and what they write). Every run gets its own directory, reused when it already finished
with the same config; the tables and figures are built from the runs' records by
``suite.reproduction``: the tables and figures declared there say which settings each shows.
"""
from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import platform
import sys

import torch

from suite import comparison_results, dispatch
from suite.commands import comparison_track, map_target
from suite.config import REPO
from suite.records import Records
from suite.reproduction import ablation, docs_block, figures, reconstruction, run_plan, runner, tables
from suite.reproduction.ablation_settings import ABLATIONS
from suite.reproduction.chapter5 import RECONSTRUCTION
from suite.reproduction.comparison_settings import TRACKS, TUNED
from suite.reproduction.setting import Setting

MAP = "map"  # not a plan of settings: its regimes plan their own cells (suite/commands/map_target.py)
TARGETS = [*run_plan.TARGETS, MAP, "all"]
TARGET_HELP = """targets:
  table_5_1, xor, table_5_2, sensitivity, activations, figures
              the thesis protocol (the reproduction: as the thesis ran them, 5 seeds, mean ± std)
  ablation    KryBall's options beyond the thesis, alone and combined
  comparison  the comparison protocol: Table 5.1's five problems, XOR and MNIST-1D re-run for every
              optimiser with a sweep spec, 10 seeds (5 where expensive), 95 % confidence intervals,
              time-to-target (AlgoPerf) and performance profiles over the workloads, on one of two
              tracks (--track; they never mix, and share the tuned track's targets):
                tuned        every cell with its task's tuned config (+tuned=), the thesis's epoch
                             budgets, and what each cell's tuning cost (the default)
                self_tuning  every optimiser from conf/optim/<name>.yaml unchanged, no tuning, one
                             wall-clock budget per workload for every optimiser (AlgoPerf's
                             self-tuning ruleset)
              --publish writes the track's per-run results to conf/tuned/comparison/<track>/;
              --from-results rebuilds its tables and figures from them (--write-docs: and its
              block of docs/results.md)
  map         where KryBall+ stands over regimes (MNIST-1D by batch size, Rahimi–Recht by κ, the
              physics-informed tasks, image fitting by batching): its time to target over the best
              other optimiser's, a heat-map and a table per track (both, or --track's); the runs the
              comparison's tracks share are shared; --publish, --from-results as for comparison
  all         every target above but map (the comparison's tuned track)"""
COMPARISON_PROTOCOL = "the comparison protocol"
COMPARISON_ONLY = ("--track", "--publish", "--from-results", "--results-dir", "--write-docs", "--docs")
MAP_TOO = ("--track", "--publish", "--from-results", "--results-dir")  # of those, what the map target takes


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=TARGET_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", choices=TARGETS)
    p.add_argument("--quick", action="store_true",
                   help="CPU-sized version of the target's protocol: fewer seeds, MNIST-1D 20 epochs (the "
                        "comparison's self-tuning track: a fifth of each time budget; see docs/results.md)")
    p.add_argument("--seeds", type=int,
                   help="seeds per cell, for every cell (default: the protocol's — thesis targets 5, 3 on "
                        "CIFAR-10; comparison 10, 5 for second-order optimisers on MNIST-1D)")
    p.add_argument("--out", type=pathlib.Path, default=REPO / "outputs" / "reports")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs at once, each in its own process or submitit job (default 1; locally, with --threads 1, "
                        "up to the core count)")
    p.add_argument("--executor", choices=dispatch.EXECUTORS, default="local",
                   help="where the runs go: processes of this machine (local), or submitit jobs on it "
                        "(submitit_local) or on a SLURM cluster (submitit_slurm), with the resources of "
                        "conf/hydra/launcher/<executor>.yaml (docs/scaling.md)")
    p.add_argument("--executor-options", type=dispatch.options, metavar="KEY=VALUE[,...]",
                   help="change keys of that file for these jobs, e.g. partition=gpu,timeout_min=600")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads per run and analysis (default 1: fastest for these small models on a "
                        "shared CPU)")
    p.add_argument("--data-dir", help="folder holding cifar-10-batches-py (default: task.data_dir)")
    p.add_argument("--only", action="append", default=[], metavar="SETTING[/OPTIM]",
                   help="run just these settings or cells, e.g. --only xor/kryball (repeatable)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="a Hydra override added to every run, e.g. --set optim.krylov_tol=0.2 with --only and its own "
                        "--out: a variant measured beside the protocol's runs (scripts/levers.py; repeatable)")
    p.add_argument("--track", choices=TRACKS,
                   help="comparison: tuned (default) or self_tuning (see the targets below)")
    p.add_argument("--publish", action="store_true",
                   help="comparison: also write the track's per-run results to --results-dir, to commit (the full "
                        "protocol of every cell only; they are always written under OUT/per_run/)")
    p.add_argument("--from-results", action="store_true",
                   help="comparison: run nothing; rebuild the track's tables and figures from its per-run results "
                        "in --results-dir")
    p.add_argument("--results-dir", type=pathlib.Path,
                   help=f"comparison: where per-run results are published and read (default "
                        f"{comparison_results.FOLDER.relative_to(REPO)}/)")
    p.add_argument("--write-docs", action="store_true",
                   help="comparison --from-results: rewrite the track's block of tables in --docs")
    p.add_argument("--docs", type=pathlib.Path, help="the document --write-docs rewrites (default docs/results.md)")
    args = p.parse_args(argv)
    given = [flag for flag in COMPARISON_ONLY if getattr(args, flag[2:].replace("-", "_")) not in (None, False)]
    if args.target == MAP and (beyond := [flag for flag in given if flag not in MAP_TOO]):
        p.error(f"{', '.join(beyond)}: for the comparison target only (the map has no block of docs/results.md)")
    if given and args.target not in ("comparison", MAP):
        p.error(f"{', '.join(given)}: for the comparison and map targets only")
    cells = [name for name in args.only if "/" in name]  # --only whole settings keeps every cell of each
    if args.publish and (args.quick or cells or args.overrides or args.seeds is not None or args.from_results):
        p.error("--publish writes a track's committed results: the full protocol of every cell of each workload it "
                "runs (no --quick, --only SETTING/OPTIM, --set, --seeds or --from-results)")
    if args.from_results and (args.only or args.seeds is not None):
        p.error("--from-results runs nothing: --only and --seeds do not apply")
    if (args.write_docs or args.docs) and not args.from_results:
        p.error("--write-docs and --docs go with --from-results (the block is rebuilt from the committed results)")
    args.track = args.track or (None if args.target == MAP else TUNED.name)  # the map: both tracks
    args.results_dir = args.results_dir or comparison_results.FOLDER
    args.docs = args.docs or docs_block.RESULTS_MD
    if args.seeds is not None and args.seeds < 1 or args.threads < 1 or args.jobs < 1:
        p.error("--seeds, --threads and --jobs must be at least 1")
    if args.executor_options and args.executor == "local":
        p.error("--executor-options is for --executor submitit_local or submitit_slurm")
    if args.executor != "local":
        try:
            dispatch.launcher_parameters(args.executor, dict(args.executor_options or ()))  # a wrong key, now
        except ValueError as error:
            p.error(str(error))
    for cell in args.only:
        name, _, optim = cell.partition("/")
        if name not in run_plan.SETTINGS or optim and optim not in run_plan.SETTINGS[name].optimisers():
            p.error(f"--only {cell}: settings are {', '.join(run_plan.SETTINGS)}; optimisers: the setting's "
                    "(the thesis's rows and those with a sweep spec for its task)")
    return args


def protocol_line(args, protocol_name: str) -> str:
    """Under which protocol, when and on what a report was made: its first line."""
    mode = f"quick (CPU-sized; not {protocol_name})" if args.quick else protocol_name
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    when = datetime.datetime.now(datetime.UTC)
    return (f"Protocol: {mode}; generated {when:%Y-%m-%d %H:%M} UTC on a {os.cpu_count()}-core "
            f"{platform.machine()} CPU{gpu}; --device {args.device}, --threads {args.threads}.")


def header(args, plan: run_plan.Plan, names: list[str], protocol_name: str = "the thesis protocol") -> list[str]:
    """What ran, where and how — the first lines of every table."""
    cells = {(s.setting.name, s.optim): s.tuned for s in plan.specs if s.setting.name in names}
    untuned = sorted(cell for cell, tuned in cells.items() if tuned is None)
    whole = {name for name, _ in untuned if all(tuned is None for (n, _), tuned in cells.items() if n == name)}
    untuned_text = (f"all {len(cells)} cells that ran" if cells and len(untuned) == len(cells) else
                    ", ".join([*(f"every cell of {name}" for name in sorted(whole)),
                               *(f"{name}/{optim}" for name, optim in untuned if name not in whole)]) or "none")
    tunable = any(run_plan.SETTINGS[n].tunable for n in names)
    return [protocol_line(args, protocol_name),
            *(run_plan.describe(run_plan.SETTINGS[n], args.quick, args.seeds, plan.sweeps_dir)
              + (f" — not run here ({plan.not_run[n]})" if n in plan.not_run else "") for n in names),
            (f"Untuned cells (the optimiser's defaults; the `config` column names the sweep that tunes each): "
             f"{untuned_text}." if tunable else
             "Every cell runs its optimiser's defaults (`conf/optim/<name>.yaml`), by design.")]


def reconstruction_report(args, plan: run_plan.Plan, records: Records, names: list[str],
                          suffix: str) -> list[pathlib.Path]:
    """§5.4's reconstruction error against M: every error (CSV), the table (Markdown) and the figure."""
    runs = records.where(setting=names)
    errors = reconstruction.errors(runs)
    written = tables.write([reconstruction.table(errors)], runs, args.out, "reconstruction" + suffix,
                           "§5.4, eqs 5.5–5.12: reconstruction error of the saddle-free direction against M",
                           header(args, plan, names) + reconstruction.NOTES, data=errors)
    if not errors.empty:
        written.append(figures.fig_reconstruction(errors, args.out / f"reconstruction{suffix}.png"))
    return written


def planned(plan: run_plan.Plan, settings: tuple[Setting, ...]) -> list[Setting]:
    """Those of the settings that this plan ran (or could not run here)."""
    return [setting for setting in settings if setting.name in plan.planned]


def names_of(settings: list[Setting]) -> list[str]:
    return [setting.name for setting in settings]


def write_table(args, plan: run_plan.Plan, records: Records, table: tables.Table, built: list,
                settings: list[Setting], suffix: str) -> list[pathlib.Path]:
    names = names_of(settings)
    return tables.write(built, records.where(setting=names), args.out, table.target + suffix, table.title,
                        header(args, plan, names) + list(table.notes))


def write_outputs(args, plan: run_plan.Plan, records: Records, targets: list[str],
                  common: list[str] = ()) -> list[pathlib.Path]:
    """The tables and figures of the targets, from the records of this plan's runs."""
    suffix = ".quick" if args.quick else ""
    written = []
    for table in (tables.TABLE_5_1, tables.XOR):
        if table.target in targets:
            settings = planned(plan, table.settings)
            built = tables.convergence_table(records, settings, plan.sweeps_dir)
            layout = tables.thesis_layout(built) if not built.empty else built
            written += write_table(args, plan, records, table, [built, layout], settings, suffix)
    if tables.TABLE_5_2.target in targets:
        settings = planned(plan, tables.TABLE_5_2.settings)
        command = (f"python scripts/reproduce.py table_5_2{' --quick' if args.quick else ''} --device cuda "
                   "--data-dir DIR  # DIR holds cifar-10-batches-py")
        built = tables.classification_table(records, settings, plan.not_run, command, plan.sweeps_dir)
        written += write_table(args, plan, records, tables.TABLE_5_2, [built], settings, suffix)
    # Each figure target draws the figures of its own settings; under `all` every figure is drawn once.
    drawn = names_of([s for target in targets if target in run_plan.FIGURE_TARGETS
                      for s in planned(plan, run_plan.TARGETS[target])])
    if drawn:
        written += figures.draw_all(records.where(setting=drawn), args.out, suffix)
    if names := [name for name in names_of(planned(plan, RECONSTRUCTION)) if name in drawn]:
        written += reconstruction_report(args, plan, records, names, suffix)
    if "ablation" in targets:
        names = names_of(planned(plan, run_plan.TARGETS["ablation"]))
        written += ablation.write(records.where(setting=names), ABLATIONS, args.out, suffix,
                                  lambda ablation_names: header(args, plan, ablation_names))
    if "comparison" in targets:
        name = f"{COMPARISON_PROTOCOL}, {TRACKS[args.track].name.replace('_', '-')} track"
        written += comparison_track.report(args, plan, records, common, lambda names: header(args, plan, names, name))
    return written


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)  # the runs set it again from their config; this is for the analyses
    common = [f"device={args.device}", f"threads={args.threads}", *args.overrides]
    if args.target == MAP:
        try:
            return map_target.main(args, common, lambda name: protocol_line(args, name))
        except KeyboardInterrupt:
            print("interrupted: the same command resumes, reusing the finished runs", file=sys.stderr)
            return 130
    if args.from_results:
        return comparison_track.from_results(args)
    targets = list(run_plan.TARGETS) if args.target == "all" else [args.target]
    plan = run_plan.plan(targets, args.out, args.quick, args.seeds, common, args.only, args.data_dir,
                         track=args.track)
    if not plan.specs and not plan.not_run:
        print(f"error: --only {' '.join(args.only)} selects nothing of {args.target}", file=sys.stderr)
        return 2
    print(f"{len(plan.specs)} runs ({'quick' if args.quick else 'full'} protocol) under "
          f"{args.out / 'runs'}; finished runs are reused")
    for name, reason in plan.not_run.items():
        print(f"not run here: {name} ({reason})")
    try:
        workers = dispatch.Workers(args.jobs, args.executor, args.executor_options or ())
        records = runner.run_all(plan.specs, workers=workers, folder=args.out / "submitit")
    except KeyboardInterrupt:
        print("interrupted: the same command resumes, reusing the finished runs", file=sys.stderr)
        return 130
    for path in write_outputs(args, plan, records, targets, common):
        print(f"wrote {path}")
    return 0

