"""Reproduce the thesis's tables and figures (chapter 5) by running train.py's code path.

    python scripts/reproduce.py table_5_1 --quick            # Table 5.1, CPU-sized (3 seeds), minutes
    python scripts/reproduce.py all                          # the thesis protocol: every table and figure
    python scripts/reproduce.py xor --seeds 10               # Fig. 5.3's epochs to convergence, 10 seeds
    python scripts/reproduce.py sensitivity --quick          # Fig. 5.5 and the §5.4 reconstruction error against M
    python scripts/reproduce.py activations --quick          # Fig. 5.7
    python scripts/reproduce.py ablation --jobs 2            # issue 7: KryBall's options, alone and combined
    python scripts/reproduce.py table_5_2 --device cuda --data-dir /data   # with the CIFAR-10 rows

Every run gets its own directory, OUT/runs/<quick|full>/<setting>/<optim>/[<value>/]seed<k>, and is
reused when it already finished with the same config, so an interrupted reproduction resumes.
Cells use conf/tuned/<setting>_<optim>.yaml where a sweep wrote one, else the optimiser's
defaults, marked "untuned" with the sweep that would tune them. Tables (CSV + Markdown, the
thesis's numbers beside ours) and figures (PNG) are written to OUT (default outputs/reports).
"""
from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import platform
import sys

import torch

from suite.config import REPO
from suite.reproduction import ablation, figures, protocol, reconstruction, runner, tables, thesis

TARGETS = [*protocol.TARGETS, "all"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("target", choices=TARGETS)
    p.add_argument("--quick", action="store_true",
                   help="CPU-sized protocol: fewer seeds, MNIST-1D 20 epochs (see docs/results.md)")
    p.add_argument("--seeds", type=int, help="seeds per cell (default: the protocol's)")
    p.add_argument("--out", type=pathlib.Path, default=REPO / "outputs" / "reports")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs at once, each in its own process (default 1; with --threads 1, up to the core count)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads per run and analysis (default 1: fastest for these small models on a "
                        "shared CPU)")
    p.add_argument("--data-dir", help="folder holding cifar-10-batches-py (default: task.data_dir)")
    p.add_argument("--only", action="append", default=[], metavar="SETTING[/OPTIM]",
                   help="run just these settings or cells, e.g. --only xor/kryball (repeatable)")
    args = p.parse_args(argv)
    if args.seeds is not None and args.seeds < 1 or args.threads < 1 or args.jobs < 1:
        p.error("--seeds, --threads and --jobs must be at least 1")
    for cell in args.only:
        name, _, optim = cell.partition("/")
        if name not in protocol.SETTINGS or optim and optim not in protocol.SETTINGS[name].optims:
            p.error(f"--only {cell}: settings are {', '.join(protocol.SETTINGS)}; optimisers as in the thesis rows")
    return args


def header(args, plan: protocol.Plan, names: list[str]) -> list[str]:
    """What ran, where and how — the first lines of every table."""
    mode = "quick (CPU-sized; not the thesis protocol)" if args.quick else "the thesis protocol"
    cells = {f"{s.setting.name}/{s.optim}": s.tuned for s in plan.specs if s.setting.name in names}
    untuned = sorted(cell for cell, tuned in cells.items() if tuned is None)
    untuned_text = (f"all {len(cells)} cells that ran" if cells and len(untuned) == len(cells)
                    else ", ".join(untuned) or "none")
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    when = datetime.datetime.now(datetime.UTC)
    return [(f"Protocol: {mode}; generated {when:%Y-%m-%d %H:%M} UTC on a {os.cpu_count()}-core "
             f"{platform.machine()} CPU{gpu}; --device {args.device}, --threads {args.threads}."),
            *(protocol.describe(protocol.SETTINGS[n], args.quick, args.seeds)
              + (f" — not run here ({plan.not_run[n]})" if n in plan.not_run else "") for n in names),
            (f"Untuned cells (the optimiser's defaults; the `config` column names the sweep that tunes each): "
             f"{untuned_text}.")]


def reconstruction_report(args, plan: protocol.Plan, records, names: list[str], suffix: str) -> list[pathlib.Path]:
    """§5.4's reconstruction error against M: every error (CSV), the table (Markdown) and the figure."""
    runs = records[records["setting"].isin(names)]
    errors = reconstruction.errors(runs)
    written = tables.write([reconstruction.table(errors)], runs, args.out, "reconstruction" + suffix,
                           "§5.4, eqs 5.5–5.12: reconstruction error of the saddle-free direction against M",
                           header(args, plan, names) + reconstruction.NOTES, data=errors)
    if not errors.empty:
        written.append(figures.fig_reconstruction(errors, args.out / f"reconstruction{suffix}.png"))
    return written


def write_outputs(args, plan: protocol.Plan, records, targets: list[str]) -> list[pathlib.Path]:
    """The tables and figures of the targets, from the records of this plan's runs."""
    suffix = ".quick" if args.quick else ""
    planned = {s.setting.name for s in plan.specs} | set(plan.not_run)
    written = []
    for target, thesis_numbers, title in (("table_5_1", thesis.TABLE_5_1, "Table 5.1: epochs until convergence"),
                                          ("xor", thesis.XOR, "XOR (§5.3.2, Fig. 5.3): epochs until convergence")):
        if target in targets:
            names = [n for n in protocol.TARGETS[target] if n in planned]
            table = tables.convergence_table(records, [protocol.SETTINGS[n] for n in names], thesis_numbers)
            layout = tables.thesis_layout(table) if not table.empty else table
            written += tables.write([table, layout], records[records["setting"].isin(names)], args.out,
                                    target + suffix, title, header(args, plan, names) + tables.CONVERGENCE_NOTES)
    if "table_5_2" in targets:
        names = [n for n in protocol.TARGETS["table_5_2"] if n in planned]
        command = (f"python scripts/reproduce.py table_5_2{' --quick' if args.quick else ''} --device cuda "
                   "--data-dir DIR  # DIR holds cifar-10-batches-py")
        table = tables.classification_table(records, [protocol.SETTINGS[n] for n in names], thesis.TABLE_5_2,
                                            plan.not_run, command)
        written += tables.write([table], records[records["setting"].isin(names)], args.out, "table_5_2" + suffix,
                                "Table 5.2: image classification (mean ± std over seeds)", header(args, plan, names))
    # Each figure target draws the figures of its own settings; under `all` every figure is drawn once.
    drawn = {n for t in targets if t in protocol.FIGURE_TARGETS for n in protocol.TARGETS[t] if n in planned}
    if drawn:
        written += figures.draw_all(records[records["setting"].isin(drawn)], args.out, suffix)
    if names := [n for n in protocol.RECONSTRUCTION if n in drawn]:
        written += reconstruction_report(args, plan, records, names, suffix)
    if "ablation" in targets:
        names = [n for n in protocol.TARGETS["ablation"] if n in planned]
        written += ablation.write(records[records["setting"].isin(names)], args.out, suffix,
                                  lambda task_names: header(args, plan, task_names))
    return written


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)  # the runs set it again from their config; this is for the analyses
    targets = list(protocol.TARGETS) if args.target == "all" else [args.target]
    common = [f"device={args.device}", f"threads={args.threads}"]
    plan = protocol.plan(targets, args.out, args.quick, args.seeds, common, args.only, args.data_dir)
    if not plan.specs and not plan.not_run:
        print(f"error: --only {' '.join(args.only)} selects nothing of {args.target}", file=sys.stderr)
        return 2
    print(f"{len(plan.specs)} runs ({'quick' if args.quick else 'full'} protocol) under "
          f"{args.out / 'runs'}; finished runs are reused")
    for name, reason in plan.not_run.items():
        print(f"not run here: {name} ({reason})")
    try:
        records = runner.run_all(plan.specs, jobs=args.jobs).frame
    except KeyboardInterrupt:
        print("interrupted: the same command resumes, reusing the finished runs", file=sys.stderr)
        return 130
    for path in write_outputs(args, plan, records, targets):
        print(f"wrote {path}")
    return 0

