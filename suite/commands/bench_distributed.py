"""Time a KryBall step on one process and on several (data parallel, gloo), and the share spent in collectives.

    python scripts/bench_distributed.py                         # MNIST-1D MLP, batch 512: 1 and 2 processes
    python scripts/bench_distributed.py --processes 1 2 4 --steps 50 --out bench_distributed.csv

The model is the suite's MNIST-1D MLP (40-256-256-10), on one fixed synthetic batch of ``--batch-size``
examples, the batch of the whole step: with P processes each takes 1/P of it (docs/scaling.md). Rows: plain
``KryBall`` in this process, then ``DistributedKryBall`` on P processes of this machine (P = 1 included: the
data-parallel code with nothing to share). Each process runs ``--threads`` torch threads. A step's time is
the median over refresh cycles of the mean step time in a cycle (as scripts/bench_step.py), on process 0;
``comm_ms`` is the wall-clock process 0 spent inside collectives per step (waiting for the slower process
included), ``comm_share`` its share of the step, ``collectives`` and ``numbers`` per step what travelled.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import pandas as pd
import torch
import torch.distributed as dist

from kryball import KryBall
from kryball.distributed import DistributedKryBall
from suite.config import compose_config
from suite.experiment import build
from suite.local_group import run_in_processes

INPUT_FEATURES, CLASSES = 40, 10  # MNIST-1D


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="process counts to time (gloo, CPU)")
    p.add_argument("--steps", type=int, default=20, help="timed refresh cycles (after warm-up)")
    p.add_argument("--warmup", type=int, default=2, help="untimed refresh cycles first")
    p.add_argument("--krylov-dim", type=int, default=5)
    p.add_argument("--refresh", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=512, help="the whole step's batch (default: MNIST-1D's)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--out", type=pathlib.Path, help="CSV file for the table")
    args = p.parse_args(argv)
    if min(args.steps, args.krylov_dim, args.refresh, args.threads, *args.processes) < 1 or args.warmup < 0:
        p.error("--steps, --krylov-dim, --refresh, --threads and --processes must be ≥ 1, --warmup ≥ 0")
    if max(args.processes) > args.batch_size:
        p.error("every process needs an example of the batch at least")
    return args


def main(argv=None) -> int:
    benchmark(parse_args(argv))
    return 0


def benchmark(args: argparse.Namespace) -> pd.DataFrame:
    """The table of one benchmark run (also printed, and written to ``args.out`` if set)."""
    torch.set_num_threads(args.threads)
    rows = [dict(optimizer="KryBall", processes=1, **time_steps(0, args))]
    for processes in args.processes:
        rows.append(dict(optimizer="DistributedKryBall", processes=processes,
                         **run_in_processes(time_steps, processes, args, threads=args.threads)[0]))
        print(f"  {processes} process(es): {rows[-1]['step_ms']:.2f} ms/step", file=sys.stderr)
    table = pd.DataFrame(rows)
    table["speed_up"] = table.step_ms[0] / table.step_ms
    table["comm_share"] = table.comm_ms / table.step_ms
    table["batch_size"], table["threads"] = args.batch_size, args.threads
    table["krylov_dim"], table["refresh"] = args.krylov_dim, args.refresh
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    print(f"KryBall M={args.krylov_dim} r={args.refresh}, MNIST-1D MLP, batch {args.batch_size} per step, "
          f"{args.threads} thread(s) per process, gloo on the CPU")
    shown = ["optimizer", "processes", "step_ms", "speed_up", "comm_ms", "comm_share", "collectives", "numbers"]
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return table


def time_steps(rank: int, args: argparse.Namespace) -> dict:
    """Step times on this process's shard of the batch (every process of the group runs this)."""
    world = dist.get_world_size() if dist.is_initialized() else 1
    torch.manual_seed(0)  # the same model and batch on every process
    model = build(compose_config(["task=mnist1d"]).model)
    x, y = torch.randn(args.batch_size, INPUT_FEATURES), torch.randint(0, CLASSES, (args.batch_size,))
    x, y = x.tensor_split(world)[rank], y.tensor_split(world)[rank]
    options = dict(krylov_dim=args.krylov_dim, refresh=args.refresh)
    optimizer = DistributedKryBall(model.parameters(), **options) if dist.is_initialized() else \
        KryBall(model.parameters(), **options)

    def cycle() -> float:
        start = time.perf_counter()
        for _ in range(args.refresh):
            optimizer.step(lambda: torch.nn.functional.cross_entropy(model(x), y))
        return (time.perf_counter() - start) / args.refresh

    for _ in range(args.warmup):
        cycle()
    communication = getattr(optimizer, "communication", None)
    if communication is not None:
        dist.barrier()  # start the timed cycles together
        communication.reset()
        communication.timed = True
    cycles = [cycle() for _ in range(args.steps)]
    steps = args.steps * args.refresh
    return dict(step_ms=1e3 * statistics.median(cycles),
                comm_ms=1e3 * communication.seconds / steps if communication else 0.0,
                collectives=communication.calls / steps if communication else 0.0,
                numbers=communication.numbers / steps if communication else 0.0)
