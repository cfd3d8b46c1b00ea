"""Timing an optimiser step and the primitives it is made of (thesis §5.5.5: KryBall's overhead).

``primitive_costs`` measures one forward pass, one gradient (plain, and with the graph that
Hessian-vector products need) and one HVP on a batch; ``bench_optimizer`` times an optimiser's
steps through the suite's own closure, so the counts are those a training run records;
``hvp_variant_costs`` times one HVP taken several ways on sub-batches. The benchmark script
(``scripts/bench_step.py``) and the ablation's gradient-equivalent weights use them.
"""

from __future__ import annotations

import math
import statistics
import time

import torch

from kryball.curvature import GaussNewtonProducts, HessianVectorProducts

from .step_closure import Counts, make_closure


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


def primitive_costs(model, loss_fn, device, repeats, warmup, curvature_loss_fn=None) -> dict[str, float]:
    """Median cost of a forward, a gradient (plain and with graph) and one HVP on this batch; with
    ``curvature_loss_fn`` (the loss of a sub-batch, kryball/closure.py) also the gradient with graph
    and one HVP on that sub-batch (``*_sub_ms``)."""
    params = [p for p in model.parameters() if p.requires_grad]

    def forward():
        with torch.no_grad():
            loss_fn()

    median = lambda fn: statistics.median(timed_ms(fn, device, repeats, warmup))  # noqa: E731
    costs = dict(forward_ms=median(forward), gradient_ms=median(lambda: torch.autograd.grad(loss_fn(), params)))
    for suffix, loss in [("", loss_fn), *([("_sub", curvature_loss_fn)] if curvature_loss_fn else [])]:
        hvp = HessianVectorProducts(loss(), params, batched=False)
        v = torch.randn_like(hvp.gradient)
        costs[f"gradient_graph{suffix}_ms"] = median(lambda: torch.autograd.grad(loss(), params, create_graph=True))
        costs[f"hvp{suffix}_ms"] = median(lambda: hvp.matvec(v))  # noqa: B023 (used at once)
    return costs


def bench_optimizer(optimizer, model, loss_fn, device, steps, warmup, cycle, least_squares=False) -> dict:
    """Step time (median over cycles), per-step HVPs and loss evaluations, peak memory.

    Steps go through the suite's own closure (``suite.step_closure``), so the counts are
    those a training run records; ``least_squares``: ``loss_fn`` also takes ``reduction="residuals"``
    (tasks/base.py), which the closure gives an optimiser with Gauss–Newton curvature.
    """
    counts = Counts()

    def step():
        optimizer.step(make_closure(model, loss_fn, optimizer, counts, least_squares=least_squares))

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


def hvp_variant_costs(model, loss_fn, sizes, device, repeats, warmup, compiled=False,
                      backend: str = "inductor", outputs_fn=None) -> list[dict]:
    """One HVP's cost, taken several ways, on the first ``sizes`` examples of the batch (docs/performance.md).

    ``double_backward_ms``: through a gradient graph, KryBall's way (Pearlmutter 1994);
    ``forward_over_reverse_ms``: ``torch.func.jvp`` of ``torch.func.grad``; ``batched_per_product_ms``:
    5 products in one vectorised backward (``is_grads_batched``), per product; with ``compiled``,
    forward-over-reverse under ``torch.compile`` with ``backend`` (``compile_s`` apart; ``"aot_eager"``
    generates no code: the CPU rehearsal's, scripts/gpu_report.py --quick). With ``outputs_fn(model, indices)``
    (the loss as :class:`kryball.Outputs`), a product with the generalised Gauss–Newton matrix instead
    (``gauss_newton_ms``; batched, per product: ``gauss_newton_batched_per_product_ms``: kryball/curvature.py).
    Beside them the sub-batch's plain gradient. A last row compares a gradient graph and one product of 1 example
    in 8 *selected from the whole batch's graph* with the same on a forward pass of those examples alone: why
    ``curvature_batch`` needs ``closure(indices)`` (kryball/closure.py).

    ``loss_fn(model, indices=None, reduction="mean")`` is the data tasks' loss (tasks/base.py).
    """
    from torch.func import grad, jvp

    names = [name for name, p in model.named_parameters() if p.requires_grad]
    trainable = [p for p in model.parameters() if p.requires_grad]
    theta = {name: p.detach() for name, p in zip(names, trainable)}
    tangent = {name: torch.randn_like(p) for name, p in theta.items()}
    v = torch.cat([t.reshape(-1) for t in tangent.values()])
    median = lambda fn: statistics.median(timed_ms(fn, device, repeats, warmup))  # noqa: E731

    rows = []
    for size in sizes:
        indices = torch.arange(size, device=device)

        def forward_over_reverse(point, direction, net=model, indices=indices):
            return jvp(grad(lambda p: loss_fn(_ModelAt(net, p), indices)), (point,), (direction,))[1]

        hvp = HessianVectorProducts(loss_fn(model, indices), trainable, batched=True)
        V = v[:, None].expand(-1, 5).T.contiguous().T  # column-major, as KryBall's bases
        row = dict(examples=size,
                   gradient_ms=median(lambda: torch.autograd.grad(loss_fn(model, indices), trainable)),  # noqa: B023
                   double_backward_ms=median(lambda: hvp.matvec(v)),  # noqa: B023
                   forward_over_reverse_ms=median(lambda: forward_over_reverse(theta, tangent)),  # noqa: B023
                   batched_per_product_ms=median(lambda: hvp.matmat(V)) / 5)  # noqa: B023
        if outputs_fn is not None:
            ggn = GaussNewtonProducts(outputs_fn(model, indices), trainable, batched=True)
            row["gauss_newton_ms"] = median(lambda: ggn.matvec(v))  # noqa: B023
            row["gauss_newton_batched_per_product_ms"] = median(lambda: ggn.matmat(V)) / 5  # noqa: B023
        if compiled:
            start = time.perf_counter()
            fast = torch.compile(forward_over_reverse, backend=backend)
            fast(theta, tangent)
            row["compile_s"] = time.perf_counter() - start
            row["compiled_forward_over_reverse_ms"] = median(lambda: fast(theta, tangent))  # noqa: B023
        rows.append(row)

    batch = loss_fn(model, reduction="none").shape[0]
    subset = torch.randperm(batch, generator=torch.Generator().manual_seed(0))[:max(1, batch // 8)].to(device)
    directions = [t.view_as(p) for t, p in zip(tangent.values(), trainable)]

    def product_of(loss):
        g = torch.autograd.grad(loss, trainable, create_graph=True)
        return torch.autograd.grad(g, trainable, directions)

    whole_graph = lambda: product_of(loss_fn(model, reduction="none")[subset].mean())  # noqa: E731
    rows.append(dict(examples=len(subset), selected_from_whole_graph_ms=median(whole_graph),
                     separate_forward_ms=median(lambda: product_of(loss_fn(model, subset)))))
    return rows


class _ModelAt:
    """``model`` with its parameters replaced by ``point`` (for ``torch.func``): what ``loss_fn`` calls as model(x)."""

    def __init__(self, model, point):
        self.model, self.point = model, point

    def __call__(self, x):
        return torch.func.functional_call(self.model, self.point, (x,))
