"""``DistributedKryBall`` on a group of this machine's processes, one device each: the GPU report's data-parallel part.

    python -m suite.gpu_report.shared_batch --backend nccl --processes 1 --out distributed.csv

The shipped KryBall+ (``optim=kryball_plus``'s options) on the suite's MNIST-1D MLP and one fixed synthetic batch
of ``--batch-size`` examples, shared among the processes (docs/scaling.md); with NCCL process i uses cuda:i.
Rows: plain ``KryBall`` on the whole batch in process 0's device, then ``DistributedKryBall`` on each process
count. Beside the step time (median over refresh cycles, on process 0) and what its collectives cost and carry
(as scripts/bench_distributed.py, which times gloo on the CPU), ``max_loss_difference``: the largest difference
between its step losses and plain KryBall's on the whole batch, which differ by the order of floating-point
reduction only (kryball/distributed.py).
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
from suite.bench import synchronize
from suite.config import compose_config
from suite.experiment import build
from suite.local_group import run_in_processes

INPUT_FEATURES, CLASSES = 40, 10  # MNIST-1D


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("nccl", "gloo"), default="nccl", help="gloo: processes on the CPU")
    p.add_argument("--processes", type=int, nargs="+", default=[1])
    p.add_argument("--steps", type=int, default=10, help="timed refresh cycles (after one untimed)")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--out", type=pathlib.Path, required=True, help="CSV file for the table")
    args = p.parse_args(argv)
    if args.backend == "nccl" and not (torch.cuda.is_available() and dist.is_nccl_available()):
        p.error("--backend nccl: no CUDA device or no NCCL here")
    if args.backend == "nccl" and max(args.processes) > torch.cuda.device_count():
        p.error(f"--backend nccl: {max(args.processes)} processes, {torch.cuda.device_count()} CUDA device(s)")
    if min(args.steps, *args.processes) < 1:
        p.error("--steps and --processes must be ≥ 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.backend == "gloo":
        torch.set_num_threads(1)  # as each process of the group (suite/local_group.py)
    alone = steps_on(0, args)  # plain KryBall on the whole batch, in this process
    rows = [dict(optimizer="KryBall", processes=1, **summary(alone, alone))]
    for processes in args.processes:
        results = run_in_processes(steps_on, processes, args, backend=args.backend)
        rows.append(dict(optimizer="DistributedKryBall", processes=processes, **summary(results[0], alone)))
        print(f"  {processes} process(es), {args.backend}: {rows[-1]['step_ms']:.2f} ms/step", file=sys.stderr)
    table = pd.DataFrame(rows)
    table["backend"], table["batch_size"] = args.backend, args.batch_size
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    return 0


def steps_on(rank: int, args: argparse.Namespace) -> dict:
    """Step losses and times of this process's shard of the batch (every process of a group runs this; outside a
    group, plain KryBall on the whole batch)."""
    grouped = dist.is_initialized()
    world = dist.get_world_size() if grouped else 1
    device = torch.device(f"cuda:{rank}" if args.backend == "nccl" else "cpu")
    generator = torch.Generator().manual_seed(0)  # the same batch on every process
    x = torch.randn(args.batch_size, INPUT_FEATURES, generator=generator)
    y = torch.randint(0, CLASSES, (args.batch_size,), generator=generator)
    x, y = x.tensor_split(world)[rank].to(device), y.tensor_split(world)[rank].to(device)
    torch.manual_seed(0)  # the same model everywhere
    model = build(compose_config(["task=mnist1d"]).model).to(device)
    options = build(compose_config(["task=mnist1d", "optim=kryball_plus"]).optim).keywords  # the shipped KryBall+
    optimizer = (DistributedKryBall if grouped else KryBall)(model.parameters(), **options)
    torch.manual_seed(1)  # the sub-batch sampler's seed, as in tests/test_kryball_distributed.py

    def closure(indices=None):  # per-example losses, for curvature on a sub-batch (kryball/closure.py)
        xb, yb = (x, y) if indices is None else (x[indices], y[indices])
        return torch.nn.functional.cross_entropy(model(xb), yb, reduction="none")

    refresh, losses = options["refresh"], []

    def cycle() -> float:
        synchronize(device)
        start = time.perf_counter()
        for _ in range(refresh):
            losses.append(optimizer.step(closure).item())
        synchronize(device)
        return (time.perf_counter() - start) / refresh

    cycle()  # warm-up
    communication = getattr(optimizer, "communication", None)
    if communication is not None:
        dist.barrier()
        communication.reset()
        communication.timed = True
    cycles = [cycle() for _ in range(args.steps)]
    steps = args.steps * refresh
    return dict(losses=losses, step_ms=1e3 * statistics.median(cycles),
                comm_ms=1e3 * communication.seconds / steps if communication else 0.0,
                collectives=communication.calls / steps if communication else 0.0,
                numbers=communication.numbers / steps if communication else 0.0,
                device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu")


def summary(result: dict, alone: dict) -> dict:
    """A row: ``result`` without its losses, and how far they are from plain KryBall's."""
    row = {key: value for key, value in result.items() if key != "losses"}
    row["max_loss_difference"] = max(abs(a - b) for a, b in zip(result["losses"], alone["losses"]))
    return row


if __name__ == "__main__":  # through the package, so that the spawned processes find steps_on by its module's name
    from suite.gpu_report import shared_batch

    sys.exit(shared_batch.main())
