"""Evaluating a user's closure the way KryBall needs it (thesis §5.1.1; docs/design.md §3).

KryBall differentiates the loss itself (twice: gradient, then Hessian-vector products),
so its closure only has to return the loss — of the batch as a scalar, or one loss per
example as a 1-D tensor whose mean is the loss. :class:`Closure` is that closure as
KryBall calls it during one step: :meth:`Closure.with_graph` at θ (and at a sub-batch,
below), :meth:`Closure.without_graph` at trial points.

**Trial points of losses that differentiate.** A trial point needs only the loss's value,
so it is evaluated under ``torch.no_grad``, which saves recording a graph. A loss that
itself differentiates — a physics-informed residual (the network's derivatives with
respect to its inputs, ``torch.autograd.grad(u, x, create_graph=True)``), a gradient
penalty — cannot be built without a graph. Such a closure says so by calling
``torch.autograd.grad`` (or anything built on it, such as
``torch.autograd.functional.jacobian``) while it is evaluated with a graph at θ, which the
mode below sees; its trial points of that step are then evaluated with gradient tracking
on, the result detached. A trial evaluation that was not preceded by one at θ (the
loss-landscape samples of :func:`kryball.analysis.sample_line`) learns it the same way: a no-grad
evaluation in which the closure called ``torch.autograd.grad`` is evaluated again with
gradient tracking and the closure remembered as one that differentiates. Ordinary
losses keep the graph-free trial evaluation.

**Backward inside the closure.** The standard PyTorch closure (``zero_grad(); loss = f();
loss.backward(); return loss``) must still work, and so must one that calls
``torch.autograd.backward(loss)``: a plain backward would free the graph KryBall is
about to differentiate. While KryBall evaluates a closure, a backward pass *called by
that closure* therefore keeps the graph (evaluation at θ: its gradient lands in
``.grad``, at the cost of one extra backward, and :class:`kryball.KryBall` puts it back
there after the step) or is skipped (trial evaluations, which must not change ``.grad``).

**Closures that frameworks write.** Lightning's automatic optimisation hands the optimiser
a closure that runs ``training_step``, calls backward on its loss and returns
``loss.detach()``; the mode notes the tensor each backward started from, and a closure
that returns a tensor without a graph after one such backward is taken to mean that loss
(its value must be the one returned). Such a closure cannot take ``indices`` either (a
``functools.partial`` of no argument), so :func:`curvature_examples` carries the sub-batch
instead: called on the batch inside the closure, it reports the batch size to the
evaluation under way (a thread-local) and returns the examples that evaluation wants.
The mode also notes a call of ``torch.nn.functional.batch_norm`` in training mode with
running statistics, which :mod:`kryball.repeatable` needs the model for.

How all this is seen, and why this way: a ``torch.overrides.TorchFunctionMode`` entered
around the closure call. ``Tensor.backward``, ``torch.autograd.backward`` and
``torch.autograd.grad`` dispatch through ``__torch_function__`` when a mode is active
(a reference imported with ``from torch.autograd import backward`` is covered too: the
check is in the function body). Torch-function modes live on a per-thread stack, so only
the thread that runs the closure sees the mode: another thread training another model,
or code running after the closure returns, calls the real functions. The alternative, a
process-wide replacement of ``Tensor.backward`` (what this module did once), dropped
other threads' backward passes while a closure ran. The mode sees every torch call the
closure makes and passes it straight on; on the MNIST-1D MLP (batch 512, 1 CPU thread) a
forward pass took 2.39 ms with and without it.

**Curvature on a sub-batch** (the ``curvature_batch`` option, beyond the thesis; docs/performance.md).

Hessian-free optimisation (Martens 2010) and subsampled Newton methods (Byrd et al. 2011)
take curvature products on a mini-batch much smaller than the gradient's: a
Hessian-vector product costs a double backward over the graph it differentiates, so
its cost scales with the examples that graph holds, while the curvature estimate
needs far fewer examples than the gradient to be useful. With ``curvature_batch``
set, KryBall takes the loss, the gradient and the trial point on the whole batch, and
every Hessian-vector product of the step (Lanczos and the subspace's curvature) on a
subset of it, drawn afresh each step.

The saving needs a forward pass of its own on the subset: selecting some per-example
losses after the whole batch's forward pass would leave the whole batch's tensors in
the graph that every product differentiates, and each product would cost what it
costs on the whole batch (measured: docs/performance.md). Hence the closure contract:

* ``closure()`` returns the loss of the batch: a scalar, or **per-example losses** — a
  1-D tensor with one loss per example, whose mean KryBall minimises;
* ``closure(indices)`` — a closure that accepts an argument — returns the losses of
  the examples ``indices`` only (a 1-D ``torch.long`` tensor of distinct positions in
  the batch, on the CPU), per example or their mean, with a graph.

KryBall learns the batch size from the per-example losses (:class:`Closure`). A
closure that returns a scalar has no examples to draw from (a function, or a batch
taken as a whole): its curvature is taken on the whole batch, as without the option. One that returns
per-example losses but takes no argument cannot evaluate a subset: it also gets
whole-batch curvature, with a warning.

The subset of draw t comes from a ``torch.Generator`` seeded with (seed, t) alone —
as the suite draws each epoch's batch order (``tasks.base.epoch_generator``) — and
the seed and the number of draws live in the optimiser's state as plain integers
(:class:`kryball.state.SubBatchSampler`), so ``state_dict()`` resumes the draws
exactly. The seed is taken from PyTorch's global generator at the first draw (as
``torch.utils.data.DataLoader`` seeds its workers), so ``torch.manual_seed`` makes a
run repeatable.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import threading
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .losses import OUTPUT_LOSSES, Outputs, Residuals  # noqa: F401 (Residuals: kryball.closure.Residuals, as before)
from .state import FlatState, SubBatchSampler

if TYPE_CHECKING:
    from .options import Options
    from .repeatable import Repeats

_BACKWARDS = (torch.Tensor.backward, torch.autograd.backward)


class _ClosureMode(TorchFunctionMode):
    """A backward pass inside the closure keeps the graph (``keep_backward=True``, and the tensors it started from
    are noted in ``backward_of``) or is skipped; a call of ``torch.autograd.grad`` is noted (``differentiated``), and
    so is a BatchNorm that updates running statistics (``updates_running_statistics``); everything else is passed on
    unchanged. Active on the entering thread only."""

    def __init__(self, keep_backward: bool):
        super().__init__()
        self.keep_backward = keep_backward
        self.differentiated = False
        self.updates_running_statistics = False
        self.backward_of: list[torch.Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _BACKWARDS:
            if not self.keep_backward:
                return None
            start = args[0] if args else kwargs.get("tensors", kwargs.get("self"))
            if isinstance(start, torch.Tensor):
                self.backward_of.append(start)
            kwargs["retain_graph"] = True
        elif func is torch.autograd.grad:
            self.differentiated = True
        elif func is F.batch_norm:
            training = kwargs.get("training", args[5] if len(args) > 5 else False)
            running_mean = kwargs.get("running_mean", args[1] if len(args) > 1 else None)
            self.updates_running_statistics |= bool(training) and running_mean is not None
        return func(*args, **kwargs)


class _Evaluation(threading.local):
    """What :func:`curvature_examples` reads and reports during one evaluation on this thread: the examples wanted
    (``indices``; ``None``: all) and the batch size it saw (``batch_size``; ``None``: not called). ``active`` is
    False outside KryBall's evaluations."""

    def __init__(self):
        self.active, self.indices, self.batch_size = False, None, None

    @contextlib.contextmanager
    def of(self, indices: torch.Tensor | None) -> Iterator[_Evaluation]:
        saved = self.active, self.indices, self.batch_size
        self.active, self.indices, self.batch_size = True, indices, None
        try:
            yield self
        finally:
            self.active, self.indices, self.batch_size = saved


_EVALUATION = _Evaluation()


def curvature_examples(*tensors: torch.Tensor):
    """The examples of a batch that KryBall's current evaluation wants: all of them, or the sub-batch the step's
    curvature is taken on (``curvature_batch``). For closures that a framework wraps, such as Lightning's, which
    cannot take ``indices``: call it on the batch inside the closure (in Lightning, in ``training_step``),

        x, y = kryball.curvature_examples(x, y)

    and return the loss of what it gives. The tensors hold the examples along their first dimension, the same
    number each; it tells KryBall the batch size. Outside a KryBall step it returns the tensors unchanged. One tensor
    in, one out; several in, a tuple out."""
    if not tensors or any(not isinstance(t, torch.Tensor) or t.ndim == 0 for t in tensors):
        raise TypeError("kryball.curvature_examples wants tensors with the examples along their first dimension")
    sizes = {t.shape[0] for t in tensors}
    if len(sizes) != 1:
        raise ValueError(f"kryball.curvature_examples wants the same number of examples in every tensor, got "
                         f"{[t.shape[0] for t in tensors]}")
    selected = tensors
    if _EVALUATION.active:
        _EVALUATION.batch_size = sizes.pop()
        if _EVALUATION.indices is not None:
            selected = tuple(t[_EVALUATION.indices.to(t.device)] for t in tensors)
    return selected[0] if len(selected) == 1 else selected


class WholeBatchCurvature(UserWarning):
    """``curvature_batch`` is set, but the closure gives KryBall no sub-batch to take the curvature on."""


class Closure:
    """The user's closure as KryBall evaluates it during one step.

    ``with_graph()`` is the batch's loss with gradient tracking (``with_graph(indices)``:
    the loss of the examples ``indices`` only, for curvature on a sub-batch);
    ``without_graph()`` is the loss at a trial point, detached. Per-example losses (a 1-D
    tensor) become their mean, :class:`Residuals` their loss, and the batch size is remembered
    (``batch_size``; ``None`` while the closure returns a scalar and calls no :func:`curvature_examples`);
    ``outputs`` are the :class:`Residuals` or :class:`Outputs` of the last evaluation with a graph (``None`` unless
    the closure returns them: :mod:`kryball.losses`). ``takes_indices`` says whether the closure can evaluate a
    sub-batch (it takes ``indices``, or it calls :func:`curvature_examples`); ``differentiates`` whether the closure
    differentiates by itself (its trial points then need gradient tracking: the module docstring);
    ``called_backward`` whether its first evaluation called backward (``.grad`` then holds that gradient after the
    step).

    ``repeats`` (:class:`kryball.repeatable.Repeats`) makes every evaluation after the first repeat its random
    streams and undo its buffer updates; without it, and where the closure runs BatchNorm in training mode,
    the first evaluation is refused (no model to restore).
    """

    def __init__(self, closure: Callable[..., torch.Tensor], repeats: Repeats | None = None):
        self._closure = closure
        self.repeats = repeats
        self.batch_size: int | None = None
        self._takes_an_argument = _takes_an_argument(closure)
        self._selects = False  # it called curvature_examples
        self.differentiates = False
        self.called_backward = False
        self.outputs: Residuals | Outputs | None = None

    @property
    def takes_indices(self) -> bool:
        return self._takes_an_argument or self._selects

    def with_graph(self, indices: torch.Tensor | None = None) -> torch.Tensor:
        """The mean loss of the batch (or of the examples ``indices``) with its graph; a backward pass inside keeps
        the graph, and where the closure returns a detached copy of the loss it called backward on (a framework's
        closure: Lightning's automatic optimisation), that loss is taken."""
        mode = _ClosureMode(keep_backward=True)
        with torch.enable_grad(), mode:
            loss = self._evaluate(indices, keep_outputs=True, backward_of=mode.backward_of)
        self.differentiates |= mode.differentiated
        self.called_backward |= bool(mode.backward_of) and indices is None
        if mode.updates_running_statistics and (self.repeats is None or not self.repeats.has_model):
            raise ValueError("KryBall: the closure runs a BatchNorm in training mode, whose running statistics would "
                             "advance at every evaluation of a step (trial points included); pass the model, "
                             "KryBall(model.parameters(), model=model), and they advance once per step")
        return loss

    def without_graph(self) -> torch.Tensor:
        """The mean loss of the batch, detached: evaluated under ``torch.no_grad`` unless the closure differentiates;
        a backward pass inside is skipped."""
        if not self.differentiates:
            mode = _ClosureMode(keep_backward=False)
            try:
                with torch.no_grad(), mode:
                    loss = self._evaluate(None)
            except RuntimeError:
                if not mode.differentiated:
                    raise
            if not mode.differentiated:
                return loss.detach()
            self.differentiates = True  # it needs a graph of its own: evaluate it again with one
        with torch.enable_grad(), _ClosureMode(keep_backward=False):
            return self._evaluate(None).detach()

    def _evaluate(self, indices: torch.Tensor | None, keep_outputs: bool = False,
                  backward_of: list[torch.Tensor] | None = None) -> torch.Tensor:
        value = self._call(indices)
        if backward_of and isinstance(value, torch.Tensor) and not value.requires_grad:
            value = _loss_whose_backward_was_called(value, backward_of)
        if isinstance(value, OUTPUT_LOSSES):
            if indices is None:
                self.batch_size = value.values.shape[0]
            else:
                _check_selected(value.values.shape[0], indices)
            if keep_outputs:
                self.outputs = value
            return value.loss()
        losses = _checked(value)
        if losses.ndim == 1:
            if indices is None:
                self.batch_size = losses.shape[0]
            else:
                _check_selected(losses.shape[0], indices)
            return losses.mean()
        return losses

    def _call(self, indices: torch.Tensor | None):
        """One call of the user's closure: ``closure(indices)``, or ``closure()`` with :func:`curvature_examples`
        selecting ``indices``; the first of the step as it is, the later ones as its repeats."""
        pass_indices = indices is not None and self._takes_an_argument
        with _EVALUATION.of(None if pass_indices else indices) as evaluation:
            with contextlib.nullcontext() if self.repeats is None else self.repeats.evaluation():
                value = self._closure(indices) if pass_indices else self._closure()
            seen = evaluation.batch_size
        if seen is not None and indices is None:
            self._selects = True
            if self.batch_size is None:
                self.batch_size = seen
        return value


def _loss_whose_backward_was_called(value: torch.Tensor, backward_of: list[torch.Tensor]) -> torch.Tensor:
    """The loss a closure called backward on, for a closure that returns a detached copy of it."""
    connected = [t for t in backward_of if t.requires_grad]
    if len(connected) != 1:
        raise ValueError(f"KryBall: the closure returned a loss without a graph and called backward {len(connected)} "
                         "times on tensors with one; KryBall differentiates the loss itself: return the loss "
                         "(with its graph), or call backward once, on it")
    loss = connected[0]
    if value.numel() != loss.numel() or not torch.allclose(value.to(loss.dtype).reshape(loss.shape), loss.detach(),
                                                          rtol=1e-4, atol=0.0, equal_nan=True):
        raise ValueError("KryBall: the closure returned a loss without a graph that differs from the one it called "
                         f"backward on ({_describe(value)} against {_describe(loss)}); return the loss it "
                         "differentiates (with its graph)")
    return loss


def _describe(value: torch.Tensor) -> str:
    return f"{value.detach().reshape(-1)[0].item():.6g}" if value.numel() == 1 else f"shape {tuple(value.shape)}"


def _check_selected(returned: int, indices: torch.Tensor) -> None:
    """``closure(indices)`` returned one loss per example: one for each index."""
    if returned != len(indices):
        raise ValueError(f"KryBall: closure(indices) returned {returned} per-example losses for {len(indices)} "
                         "indices; it must return the losses of exactly the examples indices selects (or their mean)")


def loss_with_graph(closure: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Evaluate a closure once with gradient tracking (:meth:`Closure.with_graph`)."""
    return Closure(closure).with_graph()


def _checked(losses) -> torch.Tensor:
    """The closure's value if it is a loss: a tensor with one element (as a scalar), or a 1-D tensor of
    per-example losses."""
    if not isinstance(losses, torch.Tensor) or (losses.ndim > 1 and losses.numel() != 1):
        raise TypeError("the closure must return the loss as a scalar tensor, one loss per example as a 1-D "
                        f"tensor, kryball.Residuals or kryball.Outputs; got {type(losses).__name__}"
                        + (f" of shape {tuple(losses.shape)}" if isinstance(losses, torch.Tensor) else ""))
    return losses.reshape(()) if losses.numel() == 1 and losses.ndim != 1 else losses


def _takes_an_argument(closure) -> bool:
    """Whether ``closure(indices)`` is a valid call (a positional parameter, or ``*args``)."""
    try:
        parameters = inspect.signature(closure).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in positional or p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)


# Curvature on a sub-batch.

def subset_size(batch_size: int, curvature_batch: int | float | None) -> int:
    """How many examples the curvature sees: an ``int`` is a count, a ``float`` a fraction (at least one
    example), ``None`` the whole batch; never more than the batch."""
    if curvature_batch is None:
        return batch_size
    if isinstance(curvature_batch, float):
        return min(batch_size, max(1, math.ceil(curvature_batch * batch_size)))
    return min(batch_size, curvature_batch)


def curvature_indices(batch_size: int | None, takes_indices: bool, state: FlatState, options: Options,
                      warn: Callable[[str, type[Warning]], None] = warnings.warn) -> torch.Tensor | None:
    """This step's curvature examples among the ``batch_size`` of the batch (``None``: the closure gave no batch
    size), a fresh draw without replacement; ``None``: use the whole batch. ``takes_indices``: whether the
    closure can evaluate a subset. Where it cannot, or gave no batch, ``warn`` says why and what to do
    (:class:`WholeBatchCurvature`; KryBall warns once)."""
    if options.curvature_batch is None:
        return None
    if batch_size is None:
        warn("KryBall: curvature_batch is set, but the closure returns one loss for the whole batch and calls no "
             "kryball.curvature_examples, so the curvature uses the whole batch: return per-example losses and take "
             "closure(indices=None), or call kryball.curvature_examples(x, y) on the batch inside the closure "
             "(Lightning: in training_step); a loss of θ alone, with no examples, needs no curvature_batch",
             WholeBatchCurvature)
        return None
    size = subset_size(batch_size, options.curvature_batch)
    if size >= batch_size:
        return None
    if not takes_indices:
        warn("KryBall: curvature_batch is set and the closure returns per-example losses, but it takes no argument "
             "and calls no kryball.curvature_examples, so it cannot evaluate a sub-batch: the curvature uses the "
             "whole batch. Give it an optional argument, closure(indices=None), that selects those examples, or call "
             "kryball.curvature_examples(x, y) on the batch inside it", WholeBatchCurvature)
        return None
    start_sampler(state)
    indices = torch.randperm(batch_size, generator=draw_generator(state.sampler))[:size]
    state.sampler.draws += 1
    return indices


def start_sampler(state: FlatState, agree: Callable[[int], int] = int) -> None:
    """Seed the sampler at its first draw, from PyTorch's global generator; ``agree`` turns the seed drawn into the
    one to use (data-parallel KryBall: the first process's, so that every process draws the same examples)."""
    if state.sampler is None:
        state.sampler = SubBatchSampler(agree(int(torch.randint(2**31, ()).item())))


def draw_generator(sampler: SubBatchSampler) -> torch.Generator:
    """The generator of the next draw: it depends on the sampler's seed and the number of draws so far alone."""
    return torch.Generator().manual_seed(sampler.seed * 1_000_003 + sampler.draws)
