"""Time one optimiser step on a task's model, beside the cost floor it cannot beat (thesis §5.5.5).

    python scripts/bench_step.py                                   # MNIST-1D MLP on the CPU
    python scripts/bench_step.py --task cifar10_resnet --device cuda --out resnet.csv

One fixed synthetic batch of the task's input shape and batch size (no dataset needed),
the model built from the suite's own config. In the same run it measures one
gradient (plain, and with the graph that Hessian-vector products need), one HVP and
one forward pass; an optimiser's floor is its gradient + HVPs/step × HVP + extra
forwards/step × forward, and ``overhead_vs_floor`` is its step time over that floor.
A KryBall step's cost depends on where it is in its refresh cycle, so its step time
is the median over whole cycles of the mean step time in a cycle.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import pathlib
import pstats
import sys

import pandas as pd
import torch

from suite.bench import bench_optimizer, primitive_costs
from suite.config import compose_config
from suite.experiment import build

INPUT_SHAPES = {"mnist1d": (40,), "cifar10_cnn": (3, 32, 32), "cifar10_resnet": (3, 32, 32)}
NUM_CLASSES = 10
BASELINES = {"adam": "adam", "msgd": "msgd", "lbfgs (1 eval)": "lbfgs_single"}
VARIANTS = ("reuse_curvature", "batched_hvps")  # KryBall options that change the cost, not the thesis step


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", choices=sorted(INPUT_SHAPES), default="mnist1d")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--steps", type=int, default=30, help="timed steps per optimiser (after warm-up)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--krylov-dims", type=int, nargs="+", default=[1, 3, 10, 5],
                   help="the last one also runs with each cost-saving KryBall option")
    p.add_argument("--refreshes", type=int, nargs="+", default=[1, 3], help="the last one likewise")
    p.add_argument("--batch-size", type=int, help="default: the task's")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: PyTorch's choice)")
    p.add_argument("--out", type=pathlib.Path, help="CSV file for the table")
    p.add_argument("--profile", action="store_true",
                   help="also profile KryBall at the first --krylov-dims/--refreshes values (cProfile, by self time)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is visible here")
    if min(args.steps, *args.krylov_dims, *args.refreshes) < 1 or args.warmup < 0:
        p.error("--steps, --krylov-dims and --refreshes must be ≥ 1, --warmup ≥ 0")
    return args


def main(argv=None) -> int:
    benchmark(parse_args(argv))
    return 0


def benchmark(args: argparse.Namespace) -> pd.DataFrame:
    """The table of one benchmark run (also printed, and written to ``args.out`` if set)."""
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    task_cfg = compose_config([f"task={args.task}"])
    batch_size = args.batch_size or task_cfg.task.batch_size
    torch.manual_seed(0)
    base_model = build(task_cfg.model).to(device)
    x = torch.randn(batch_size, *INPUT_SHAPES[args.task], device=device)
    y = torch.randint(0, NUM_CLASSES, (batch_size,), device=device)

    loss_fn = lambda model: torch.nn.functional.cross_entropy(model(x), y)  # noqa: E731

    def optimizer_for(overrides, model):
        return build(compose_config([f"task={args.task}", *overrides]).optim)(model.parameters())

    runs = [(name, None, None, [f"optim={optim}"]) for name, optim in BASELINES.items()]
    runs += [("kryball", m, r, ["optim=kryball", f"optim.krylov_dim={m}", f"optim.refresh={r}"])
             for m in args.krylov_dims for r in args.refreshes]
    m, r = args.krylov_dims[-1], args.refreshes[-1]  # the implementation switches, at one setting
    runs += [(f"kryball ({variant})", m, r, ["optim=kryball", f"optim.krylov_dim={m}", f"optim.refresh={r}",
                                             f"optim.{variant}=true"]) for variant in VARIANTS]
    rows = []
    for name, krylov_dim, refresh, overrides in runs:
        # The floor's parts are measured right before each row: CPU speed drifts during a run.
        costs = primitive_costs(base_model, lambda: loss_fn(base_model), device, repeats=3 * args.steps,
                                warmup=args.warmup + 2)
        model = copy.deepcopy(base_model)
        result = bench_optimizer(optimizer_for(overrides, model), model, loss_fn, device, args.steps, args.warmup,
                                 cycle=refresh or 1)
        gradient = costs["gradient_graph_ms"] if name.startswith("kryball") else costs["gradient_ms"]
        floor = (gradient + result["hvps_per_step"] * costs["hvp_ms"]
                 + max(result["loss_evals_per_step"] - 1, 0) * costs["forward_ms"])
        rows.append(dict(optimizer=name, krylov_dim=krylov_dim, refresh=refresh, **result, floor_ms=floor,
                         overhead_vs_floor=result["median_step_ms"] / floor, **costs))
        print(f"  {name:15s} M={krylov_dim or '-'} r={refresh or '-'}: {result['median_step_ms']:.2f} ms/step",
              file=sys.stderr)

    table = pd.DataFrame(rows)
    adam_ms = table.loc[table.optimizer == "adam", "median_step_ms"].item()
    table.insert(4, "ratio_to_adam", table.median_step_ms / adam_ms)
    table["task"], table["device"], table["batch_size"] = args.task, str(device), batch_size
    table["threads"] = torch.get_num_threads()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    if args.profile:
        model = copy.deepcopy(base_model)
        krylov_dim, refresh = args.krylov_dims[0], args.refreshes[0]
        optimizer = optimizer_for(["optim=kryball", f"optim.krylov_dim={krylov_dim}", f"optim.refresh={refresh}"], model)
        profiler = cProfile.Profile()
        profiler.runcall(bench_optimizer, optimizer, model, loss_fn, device, args.steps, args.warmup, refresh)
        print(f"profile of KryBall M={krylov_dim} r={refresh}, {args.steps} cycles (self time):")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(12)
    shown = ["optimizer", "krylov_dim", "refresh", "median_step_ms", "ratio_to_adam", "hvps_per_step",
             "loss_evals_per_step", "floor_ms", "overhead_vs_floor"]
    median = table[["forward_ms", "gradient_ms", "gradient_graph_ms", "hvp_ms"]].median()
    print(f"{args.task} on {device}, batch {batch_size}, {torch.get_num_threads()} threads; median costs: forward "
          f"{median.forward_ms:.2f} ms, gradient {median.gradient_ms:.2f} ms ({median.gradient_graph_ms:.2f} with "
          f"graph), HVP {median.hvp_ms:.2f} ms")
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"))
    return table
