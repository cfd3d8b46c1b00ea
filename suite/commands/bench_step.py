"""Time one optimiser step on a task's model, beside the cost floor it cannot beat (thesis §5.5.5).

    python scripts/bench_step.py                                   # MNIST-1D MLP on the CPU
    python scripts/bench_step.py --task cifar10_resnet --device cuda --out resnet.csv
    python scripts/bench_step.py --hvp-variants 512 128 64 --threads 1 [--compile]   # one HVP, several ways

One fixed synthetic batch of the task's input shape and batch size (no dataset needed),
the model built from the suite's own config. In the same run it measures one
gradient (plain, and with the graph that Hessian-vector products need), one HVP and
one forward pass; an optimiser's floor is its gradient + HVPs/step × HVP + extra
forwards/step × forward, and ``overhead_vs_floor`` is its step time over that floor.
A KryBall step's cost depends on where it is in its refresh cycle, so its step time
is the median over whole cycles of the mean step time in a cycle. Rows with curvature
on a sub-batch (``curvature_batch``, kryball/closure.py) also measure the gradient
with graph and the HVP on a sub-batch of that size, and their floor is a plain
gradient + that gradient + HVPs/step × that HVP. ``kryball_plus`` is the shipped
``optim=kryball_plus``; ``kryball_plus (Adam direction only)`` the first KryBall+, the thesis
step with Adam's direction added. ``--least-squares`` adds the shipped KryBall+ on a least-squares
loss of the same model and batch (squared error of the logits to one-hot labels), with each
curvature it offers there: the Hessian and the Gauss–Newton matrix (``curvature``, kryball/curvature.py;
a classification loss gives only the Hessian); their floors are that loss's gradient and HVP.
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

from kryball import KryBall, Outputs
from kryball.closure import subset_size
from suite.bench import bench_optimizer, hvp_variant_costs, primitive_costs
from suite.config import compose_config
from suite.experiment import build
from tasks.base import least_squares_loss

INPUT_SHAPES = {"mnist1d": (40,), "cifar10_cnn": (3, 32, 32), "cifar10_resnet": (3, 32, 32)}
NUM_CLASSES = 10
BASELINES = {"adam": "adam", "msgd": "msgd", "lbfgs (1 eval)": "lbfgs_single"}
VARIANTS = ("reuse_curvature", "batched_hvps")  # KryBall options that change the cost, not the thesis step
# name → overrides: the first KryBall+ (the thesis step with Adam's direction), the shipped one, and the shipped one
# with each lever that changes its cost (suite/commands/levers.py measures them on the self-tuning track): an adaptive
# Krylov dimension, its HVPs in one vectorised backward
KRYBALL_PLUS = {
    "kryball_plus (Adam direction only)": ["optim=kryball", "+optim.directions=[adam]"],
    "kryball_plus": ["optim=kryball_plus"],
    "kryball_plus, adaptive Krylov dimension": ["optim=kryball_plus", "optim.krylov_tol=0.2", "optim.krylov_dim=20"],
    "kryball_plus, batched HVPs": ["optim=kryball_plus", "optim.batched_hvps=true"],
    # what the same random streams at every evaluation cost (kryball/repeatable.py): with a model that draws them,
    # --overrides model.dropout=0.1
    "kryball_plus, fresh randomness": ["optim=kryball_plus", "optim.same_randomness=false"],
}
# --least-squares: name → overrides of the rows on the squared-error loss, one per curvature KryBall+ offers there
# ("auto" is the Gauss–Newton matrix on it: kryball.curvature.products_for)
LEAST_SQUARES = {
    "kryball_plus, squared error, Hessian": ["optim=kryball_plus", "optim.curvature=hessian"],
    "kryball_plus, squared error, Gauss–Newton": ["optim=kryball_plus", "optim.curvature=gauss_newton"],
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", choices=sorted(INPUT_SHAPES), default="mnist1d")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--steps", type=int, default=30, help="timed steps per optimiser (after warm-up)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--krylov-dims", type=int, nargs="+", default=[1, 3, 10, 5],
                   help="the last one also runs with each cost-saving KryBall option")
    p.add_argument("--refreshes", type=int, nargs="+", default=[1, 3], help="the last one likewise")
    p.add_argument("--curvature-batches", type=int, nargs="*", default=[64, 128],
                   help="sub-batch sizes of the curvature: one KryBall row each, at the last M and r")
    p.add_argument("--batch-size", type=int, help="default: the task's")
    p.add_argument("--overrides", nargs="+", default=[], metavar="KEY=VALUE",
                   help="Hydra overrides of the task's config, e.g. model.width=2 (a smaller ResNet)")
    p.add_argument("--least-squares", action="store_true",
                   help="also KryBall+ on a squared-error loss, with Hessian and with Gauss–Newton curvature")
    p.add_argument("--hvp-variants", type=int, nargs="*", metavar="EXAMPLES",
                   help="instead of the optimisers: one HVP taken several ways (double backward, forward-over-"
                        "reverse, batched) on sub-batches of these sizes (default: the batch, 1/2, 1/4, 1/8)")
    p.add_argument("--compile", action="store_true", help="with --hvp-variants: also a torch.compile'd one")
    p.add_argument("--compile-backend", default="inductor", help="torch.compile's backend for --compile")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: PyTorch's choice)")
    p.add_argument("--out", type=pathlib.Path, help="CSV file for the table")
    p.add_argument("--profile", nargs="?", const="kryball", choices=("kryball", "kryball_plus"),
                   help="also profile KryBall at the first --krylov-dims/--refreshes values, or the shipped "
                        "kryball_plus (cProfile, by self time)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is visible here")
    if min(args.steps, *args.krylov_dims, *args.refreshes, *args.curvature_batches) < 1 or args.warmup < 0:
        p.error("--steps, --krylov-dims, --refreshes and --curvature-batches must be ≥ 1, --warmup ≥ 0")
    return args


def main(argv=None) -> int:
    benchmark(parse_args(argv))
    return 0


def benchmark(args: argparse.Namespace) -> pd.DataFrame:
    """The table of one benchmark run (also printed, and written to ``args.out`` if set)."""
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    task_cfg = compose_config([f"task={args.task}", *args.overrides])
    batch_size = args.batch_size or task_cfg.task.batch_size
    torch.manual_seed(0)
    base_model = build(task_cfg.model).to(device)
    x = torch.randn(batch_size, *INPUT_SHAPES[args.task], device=device)
    y = torch.randint(0, NUM_CLASSES, (batch_size,), device=device)

    def loss_fn(model, indices=None, reduction="mean"):  # the data tasks' loss contract (tasks/base.py)
        xb, yb = (x, y) if indices is None else (x[indices], y[indices])
        return torch.nn.functional.cross_entropy(model(xb), yb, reduction=reduction)

    targets = torch.nn.functional.one_hot(y, NUM_CLASSES).to(x.dtype)

    def squared_error(model, indices=None, reduction="mean"):  # a least-squares task's loss contract (tasks/base.py)
        xb, tb = (x, targets) if indices is None else (x[indices], targets[indices])
        return least_squares_loss(model(xb) - tb, reduction)

    def outputs(model, indices=None):  # the same cross-entropy as kryball.Outputs: its Gauss–Newton products
        xb, yb = (x, y) if indices is None else (x[indices], y[indices])
        return Outputs(model(xb), yb, "cross_entropy")

    if args.hvp_variants is not None:
        return hvp_variants(args, base_model, loss_fn, batch_size, device, outputs)

    def optim_config(overrides):
        return compose_config([f"task={args.task}", *args.overrides, *overrides]).optim

    rows = []
    for name, overrides in planned_runs(args):
        least_squares = name in LEAST_SQUARES
        loss = squared_error if least_squares else loss_fn
        optim_cfg = optim_config(overrides)
        is_kryball = optim_cfg._target_ == "kryball.KryBall"
        examples = subset_size(batch_size, optim_cfg.curvature_batch) if is_kryball else batch_size
        subset = torch.randperm(batch_size, generator=torch.Generator().manual_seed(0))[:examples]
        sub_batch_loss = (lambda: loss(base_model, subset)) if examples < batch_size else None  # noqa: B023
        # The floor's parts are measured right before each row: CPU speed drifts during a run.
        costs = primitive_costs(base_model, lambda: loss(base_model), device, repeats=3 * args.steps,  # noqa: B023
                                warmup=args.warmup + 2, curvature_loss_fn=sub_batch_loss)
        model = copy.deepcopy(base_model)
        result = bench_optimizer(optimizer_on(model, optim_cfg), model, loss, device, args.steps,
                                 args.warmup, cycle=optim_cfg.refresh if is_kryball else 1, least_squares=least_squares)
        floor = floor_ms(costs, result, is_kryball, sub_batch=examples < batch_size)
        krylov_dim, refresh = (optim_cfg.krylov_dim, optim_cfg.refresh) if is_kryball else (None, None)
        rows.append(dict(optimizer=name, krylov_dim=krylov_dim, refresh=refresh,
                         curvature_examples=examples if is_kryball else None,
                         loss="squared error" if least_squares else "cross-entropy", **result, floor_ms=floor,
                         overhead_vs_floor=result["median_step_ms"] / floor, **costs))
        print(f"  {name:41s} M={krylov_dim or '-'} r={refresh or '-'}: {result['median_step_ms']:.2f} ms/step",
              file=sys.stderr)

    table = pd.DataFrame(rows)
    adam_ms = table.loc[table.optimizer == "adam", "median_step_ms"].item()
    table.insert(4, "ratio_to_adam", table.median_step_ms / adam_ms)
    table["task"], table["device"], table["batch_size"] = args.task, str(device), batch_size
    table["threads"], table["overrides"] = torch.get_num_threads(), " ".join(args.overrides)
    write(table, args.out)
    if args.profile:
        model = copy.deepcopy(base_model)
        overrides = (["optim=kryball_plus"] if args.profile == "kryball_plus" else
                     ["optim=kryball", f"optim.krylov_dim={args.krylov_dims[0]}", f"optim.refresh={args.refreshes[0]}"])
        optim_cfg = optim_config(overrides)
        profiler = cProfile.Profile()
        profiler.runcall(bench_optimizer, optimizer_on(model, optim_cfg), model, loss_fn, device, args.steps,
                         args.warmup, optim_cfg.refresh)
        print(f"profile of {args.profile} M={optim_cfg.krylov_dim} r={optim_cfg.refresh}, {args.steps} cycles "
              "(self time):")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)
    shown = ["optimizer", "krylov_dim", "refresh", "curvature_examples", "median_step_ms", "ratio_to_adam",
             "hvps_per_step", "loss_evals_per_step", "floor_ms", "overhead_vs_floor"]
    median = table[["forward_ms", "gradient_ms", "gradient_graph_ms", "hvp_ms"]].median()
    print(f"{args.task} on {device}, batch {batch_size}, {torch.get_num_threads()} threads; median costs: forward "
          f"{median.forward_ms:.2f} ms, gradient {median.gradient_ms:.2f} ms ({median.gradient_graph_ms:.2f} with "
          f"graph), HVP {median.hvp_ms:.2f} ms")
    print(table[shown].to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"))
    return table


def optimizer_on(model: torch.nn.Module, optim_cfg):
    """A row's optimiser of ``model``'s parameters; a KryBall is given the model too, as the suite's builder gives it
    (suite/optimisers/build.py): BatchNorm's statistics then advance once per step, trial points apart."""
    optimizer = build(optim_cfg)(model.parameters())
    if isinstance(optimizer, KryBall):
        optimizer.model = model
    return optimizer


def planned_runs(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """(row name, Hydra overrides) of every row: baselines, the thesis KryBall over M × r, its cost options and
    sub-batches at the last M and r, then KryBall+ before and after the cost issue, and with ``--least-squares``
    KryBall+ on the squared-error loss with each curvature."""
    runs = [(name, [f"optim={optim}"]) for name, optim in BASELINES.items()]
    runs += [("kryball", ["optim=kryball", f"optim.krylov_dim={m}", f"optim.refresh={r}"])
             for m in args.krylov_dims for r in args.refreshes]
    at_m_r = ["optim=kryball", f"optim.krylov_dim={args.krylov_dims[-1]}", f"optim.refresh={args.refreshes[-1]}"]
    runs += [(f"kryball ({variant})", [*at_m_r, f"optim.{variant}=true"]) for variant in VARIANTS]
    runs += [(f"kryball (curvature_batch={size})", [*at_m_r, f"optim.curvature_batch={size}"])
             for size in args.curvature_batches]
    return runs + list(KRYBALL_PLUS.items()) + (list(LEAST_SQUARES.items()) if args.least_squares else [])


def floor_ms(costs: dict, result: dict, is_kryball: bool, sub_batch: bool) -> float:
    """The step's cost floor: its gradient(s), HVPs and extra forward passes at their measured costs."""
    extra_forwards = max(result["loss_evals_per_step"] - 1, 0)
    if not is_kryball:
        return costs["gradient_ms"] + extra_forwards * costs["forward_ms"]
    if sub_batch:  # a plain gradient of the batch, then the sub-batch's (its evaluation is one of the loss_evals)
        return (costs["gradient_ms"] + costs["gradient_graph_sub_ms"] + result["hvps_per_step"] * costs["hvp_sub_ms"]
                + max(extra_forwards - 1, 0) * costs["forward_ms"])
    return costs["gradient_graph_ms"] + result["hvps_per_step"] * costs["hvp_ms"] + extra_forwards * costs["forward_ms"]


def hvp_variants(args, model, loss_fn, batch_size: int, device: torch.device, outputs_fn) -> pd.DataFrame:
    """``--hvp-variants``: one HVP taken several ways on sub-batches, and one Gauss–Newton product
    (suite.bench.hvp_variant_costs)."""
    sizes = args.hvp_variants or [batch_size, batch_size // 2, batch_size // 4, batch_size // 8]
    table = pd.DataFrame(hvp_variant_costs(model, loss_fn, sizes, device, repeats=3 * args.steps,
                                           warmup=args.warmup + 2, compiled=args.compile,
                                           backend=args.compile_backend, outputs_fn=outputs_fn))
    print(f"{args.task} on {device}, batch {batch_size}, {torch.get_num_threads()} threads: one HVP, ms")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"))
    table["task"], table["device"], table["threads"] = args.task, str(device), torch.get_num_threads()
    write(table, args.out)
    return table


def write(table: pd.DataFrame, out: pathlib.Path | None) -> None:
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
