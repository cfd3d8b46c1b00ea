"""Timing an optimiser step and the primitives it is made of (thesis §5.5.5: KryBall's overhead).

``primitive_costs`` measures one forward pass, one gradient (plain, and with the graph that
Hessian-vector products need) and one HVP on a batch; ``bench_optimizer`` times an optimiser's
steps through the suite's own closure, so the counts are those a training run records. The
benchmark script (``scripts/bench_step.py``) and the ablation's gradient-equivalent weights use them.
"""

from __future__ import annotations

import math
import statistics
import time

import torch

from kryball.hvp import HessianVectorProducts

from .closure import Counts, make_closure


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_ms(fn, device: torch.device, repeats: int, warmup: int) -> list[float]:
    """Wall-clock of ``fn()`` in milliseconds, ``repeats`` times after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(1e3 * (time.perf_counter() - start))
    return times


def primitive_costs(model, loss_fn, device, repeats, warmup) -> dict[str, float]:
    """Median cost of a forward, a gradient (plain and with graph) and one HVP on this batch."""
    params = [p for p in model.parameters() if p.requires_grad]

    def forward():
        with torch.no_grad():
            loss_fn()

    hvp = HessianVectorProducts(loss_fn(), params, batched=False)
    v = torch.randn_like(hvp.gradient)
    median = lambda fn: statistics.median(timed_ms(fn, device, repeats, warmup))  # noqa: E731
    return dict(
        forward_ms=median(forward),
        gradient_ms=median(lambda: torch.autograd.grad(loss_fn(), params)),
        gradient_graph_ms=median(lambda: torch.autograd.grad(loss_fn(), params, create_graph=True)),
        hvp_ms=median(lambda: hvp.matvec(v)),
    )


def bench_optimizer(optimizer, model, loss_fn, device, steps, warmup, cycle) -> dict:
    """Step time (median over cycles), per-step HVPs and loss evaluations, peak memory.

    Steps go through the suite's own closure (``suite.closure``), so the counts are
    those a training run records.
    """
    counts = Counts()

    def step():
        optimizer.step(make_closure(model, loss_fn, optimizer, counts))

    for _ in range(warmup * cycle):
        step()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    counts.sync(optimizer)
    before = counts.as_dict()
    step_ms = timed_ms(step, device, steps * cycle, 0)
    counts.sync(optimizer)
    cycles = [statistics.fmean(step_ms[i:i + cycle]) for i in range(0, len(step_ms), cycle)]
    return dict(
        median_step_ms=statistics.median(cycles),
        hvps_per_step=(counts.hvps - before["hvps"]) / len(step_ms),
        loss_evals_per_step=(counts.loss_evals - before["loss_evals"]) / len(step_ms),
        peak_memory_mb=torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else math.nan,
    )
