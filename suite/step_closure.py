"""The one closure convention that serves every optimiser, and its cost accounting.

``optimizer.step(closure)`` with ``closure()`` evaluating the task's loss on the step's batch:

- torch optimisers (SGD, Adam, LBFGS) need the closure to zero the gradients and call
  ``backward()``; KryBall computes gradients itself (``KryBall.computes_gradients = True``,
  docs/design.md §3), so its closure only evaluates the loss.
- An optimiser whose ``step()`` differentiates the gradients once more — Hutchinson estimates of
  the Hessian diagonal (AdaHessian, SophiaH), which take Hessian-vector products (HVPs) of
  ``p.grad`` — needs ``backward(create_graph=True)``. It says so with ``create_graph = True``:
  the suite's builder sets that attribute from its config's ``suite.create_graph``
  (``suite/optimisers/build.py``), so no optimiser is a special case here or in ``train.py``.
- KryBall with curvature on a sub-batch (``curvature_batch``, kryball/closure.py) wants
  per-example losses and ``closure(indices)``, the losses of some examples of the batch; the
  closure gives them when the optimiser asks (``samples_curvature``) and the task's loss can
  (``loss(model, batch, indices=..., reduction="none")``), and the mean loss otherwise.
- KryBall with Gauss–Newton curvature (``curvature="gauss_newton"``, or ``"auto"`` on a least-squares
  task) wants the residuals of a least-squares loss (``wants_residuals``): where the task has them
  (``least_squares``), the closure gives ``kryball.Residuals`` of the task's
  ``loss(..., reduction="residuals")`` (tasks/base.py), of the batch or of ``indices``. With
  ``curvature="gauss_newton"`` by name (``needs_residuals``) on a classification task (``outputs``) it
  gives ``kryball.Outputs``, the logits and labels (``reduction="outputs"``): generalised Gauss–Newton.
- An optimiser may call the closure several times per step (KryBall's trial point, LBFGS's line
  search). Those calls see the same batch, and only the first may advance BatchNorm running
  statistics: a later call evaluates the same batch again and must not count it twice
  (docs/design.md §3). KryBall sees to it itself, given the model (``KryBall(..., model=model)``, which
  :func:`suite.optimisers.build.build_optimizer` passes); for every other optimiser the closure uses the same
  mechanism, :class:`kryball.repeatable.Repeats`: the buffers the first call left are put back after every
  later one (the forward pass itself is the first call's, batch statistics included).

:class:`Counts` keeps cumulative gradient evaluations, HVPs and loss evaluations for every
optimiser: each closure call is a loss evaluation, and a gradient evaluation when it calls
``backward()``. HVPs taken inside ``step()`` are *observed*, not predicted: after a graph-keeping
backward, every backward pass through the gradients (``autograd.grad(p.grad…, params, v)``, a
double backward, Pearlmutter 1994) is one HVP, counted by a hook on those gradient tensors. An
optimiser that keeps its own ``totals`` (KryBall, the trust-region peer) knows better — it counts
the gradients and HVPs it takes of the closure's output — so its totals replace the closure's tally.
"""

import contextlib
import inspect
import warnings
from dataclasses import asdict, dataclass

import torch
from torch import nn

from kryball import KryBall, Outputs, Residuals, WholeBatchCurvature
from kryball.repeatable import Repeats


@dataclass
class Counts:
    gradient_evals: int = 0
    hvps: int = 0
    loss_evals: int = 0

    def sync(self, optimizer: torch.optim.Optimizer) -> None:
        """Take the optimiser's own cumulative totals where it keeps them (KryBall)."""
        totals = getattr(optimizer, "totals", None)
        if totals is not None:
            for key in asdict(self):
                setattr(self, key, int(totals[key]))

    def as_dict(self) -> dict:
        return asdict(self)


def count_hvps_through(gradients: list[torch.Tensor], counts: Counts) -> None:
    """Count one HVP for every later backward pass that goes through ``gradients`` (kept with their graph).

    ``mode="any"`` fires once per backward pass that reaches any of them, however many it reaches:
    one ``autograd.grad(gradients, params, grad_outputs=v)`` is one HVP whatever the number of tensors.
    A vectorised pass (``is_grads_batched=True``) of k products would count once; no optimiser
    configured here takes one (KryBall, which does, counts its own).
    """
    connected = [g for g in gradients if g is not None and g.requires_grad]
    if connected:
        def one_more(_):
            counts.hvps += 1

        torch.autograd.graph.register_multi_grad_hook(connected, one_more, mode="any")


def backward_with_graph(loss: torch.Tensor, model: nn.Module, counts: Counts) -> None:
    """``loss.backward(create_graph=True)`` into the trainable parameters only, HVPs through the resulting
    ``p.grad`` counted.

    PyTorch warns that ``p.grad`` then holds a graph that refers back to ``p`` (a reference cycle);
    the closure's ``zero_grad()`` sets every ``p.grad`` to None before the next backward, which
    breaks it, so the warning is silenced here. Any other leaf that requires grad would get such a
    cycle too, and nothing would break it: a physics-informed loss's input points (``tasks/pinn.py``
    differentiates the network with respect to them) would keep each step's whole graph alive, about
    7 MB a step on the convection task (SophiaH ran out of memory after 553 steps, 2026-12-07), so
    ``inputs`` names the parameters.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")
        loss.backward(create_graph=True, inputs=params)
    count_hvps_through([p.grad for p in params], counts)


def make_closure(model: nn.Module, loss_fn, optimizer: torch.optim.Optimizer, counts: Counts,
                 least_squares: bool = False, outputs: bool = False):
    """A closure for one step: ``loss_fn(model)`` on the step's batch, counted, BN-safe on reuse;
    ``least_squares``: ``loss_fn`` takes ``reduction="residuals"`` (a least-squares task's loss, tasks/base.py);
    ``outputs``: it takes ``reduction="outputs"`` (a classification task's)."""
    computes_gradients = getattr(optimizer, "computes_gradients", False)
    create_graph = getattr(optimizer, "create_graph", False)
    per_example = getattr(optimizer, "samples_curvature", False) and selects_examples(loss_fn)
    residuals = least_squares and getattr(optimizer, "wants_residuals", False)
    # The outputs only where Gauss–Newton curvature is asked for by name: "auto" (KryBall+'s) keeps the Hessian on
    # classification, where the generalised Gauss–Newton matrix has not been measured on the tracks.
    gives_outputs = outputs and not residuals and getattr(optimizer, "needs_residuals", False)
    # KryBall repeats its own evaluations; for any other optimiser the closure does (same draws left alone: the
    # peers' runs stay as they were).
    repeats = None if isinstance(optimizer, KryBall) else Repeats(_device_of(model), same_randomness=False,
                                                                  model=model)

    def closure(indices: torch.Tensor | None = None) -> torch.Tensor | Residuals | Outputs:
        with contextlib.nullcontext() if repeats is None else repeats.evaluation():
            if residuals:  # KryBall with Gauss–Newton curvature (the build refuses "gauss_newton" without residuals)
                loss = Residuals(loss_fn(model, indices=indices, reduction="residuals"))
            elif gives_outputs:  # KryBall with curvature="gauss_newton" on a classification task: kryball.Outputs
                loss = loss_fn(model, indices=indices, reduction="outputs")
            elif per_example:  # KryBall only (computes_gradients): per-example losses of the batch or of `indices`
                loss = loss_fn(model, indices=indices, reduction="none")
            elif computes_gradients:
                loss = loss_fn(model)
            else:
                optimizer.zero_grad()
                with torch.enable_grad():
                    loss = loss_fn(model)
                    if create_graph:
                        backward_with_graph(loss, model, counts)
                    else:
                        loss.backward()
                counts.gradient_evals += 1
        counts.loss_evals += 1
        return loss

    closure.counts = counts  # the tally so far: an optimiser that hands over mid-run reads it (suite/optimisers/phased.py)
    return closure


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters(), torch.empty(0)).device


def without_examples_quietly(loss_fn, optimizer: torch.optim.Optimizer) -> contextlib.AbstractContextManager:
    """Around a step: KryBall+'s ``curvature_batch`` on a task without examples (a function of θ: Rosenbrock, the
    saddle) falls back to the whole batch, which is all there is: the warning that says so is for a user's closure,
    not these. Nothing for an optimiser that takes no sub-batch (every step of Adam & co. pays nothing)."""
    if not getattr(optimizer, "samples_curvature", False) or selects_examples(loss_fn):
        return contextlib.nullcontext()
    return _ignoring(WholeBatchCurvature)


@contextlib.contextmanager
def _ignoring(category: type[Warning]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category)
        yield


def selects_examples(loss_fn) -> bool:
    """Whether ``loss_fn`` takes ``indices`` and ``reduction`` (the data tasks' losses do; a function's does not)."""
    try:
        parameters = inspect.signature(loss_fn).parameters
    except (TypeError, ValueError):
        return False
    return "indices" in parameters and "reduction" in parameters
