"""``KryBall``: the optimiser class — thesis Algorithm 4 as ``step``, bookkeeping around pure pieces.

One call ``loss = opt.step(closure)`` is one iteration of thesis Algorithm 4, as the
numbered listing in docs/design.md §2 has it (the "line N" below): the loss and gradient;
on refresh steps the Krylov basis and saddle-free direction; the search subspace and the
curvature along it; the exact trust-region subproblem; one trial evaluation, ρ, accept or
reject, the radius; the momentum. All trainable tensors of all parameter groups form one
flat vector θ (:mod:`kryball.parameters` says which tensors can be part of it). Its state is
a :class:`kryball.state.FlatState`, kept in torch.optim's ``state`` under the first trainable
parameter (as ``torch.optim.LBFGS`` keeps its own) and written by ``state_dict()`` as plain
tensors and numbers, with the trainable set and the shapes it belongs to, so that
``load_state_dict()`` resumes a run exactly and refuses, by name, a changed set or other
parameters.
"""

import dataclasses
import inspect
import os
import sys
import warnings
from collections import defaultdict
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch.optim import Optimizer

from .closure import Closure, curvature_indices
from .curvature import CurvatureProducts, explained_double_backward, gradient, products_for
from .options import HYPERPARAMETERS, Options
from .parameters import (MESSAGE, ParamGroup, all_params, assign, check_steppable, flatten, refuse_changed_set,
                         refuse_duplicates, refuse_other_parameters, shapes, trainable_positions)
from .repeatable import Repeats
from .state import FlatState, Status, StepInfo, Totals
from .subspace import needs_moments, search_subspace, update_moments
from .trust_region import TrialPoints, trust_region_step

# The keys a parameter group may hold beside KryBall's options: its tensors, and the names torch keeps for
# named_parameters().
GROUP_KEYS = ("params", "param_names")


class KryBall(Optimizer):
    """Krylov saddle-free Newton in a trust region; no learning rate (thesis Algorithm 4).

    Args:
        params: parameters or parameter groups, as for any ``torch.optim`` optimiser
            (``named_parameters()`` too: messages then use the names). All groups form
            one flat vector and share one set of hyperparameters (read from the first
            group); frozen tensors (``requires_grad=False``) are skipped. The trainable
            tensors must be dense, real floating-point, of one dtype and device, each
            given once.
        model: the module the closure evaluates, whose buffers (running statistics) then advance once per
            step although the closure is evaluated several times (:mod:`kryball.repeatable`); ``None``: no
            module with buffers updated in training mode. Not a hyperparameter: not in ``param_groups`` nor in
            ``state_dict()``, nor pickled with the optimiser.
        **options: the hyperparameters, by name — the fields of
            :class:`kryball.options.Options`, which gives each one's meaning, default
            and valid values (``HYPERPARAMETERS`` lists the defaults). Those beyond the
            thesis are off by default, so that the step is thesis Algorithm 4.

    The closure contract (docs/design.md §3):

    - ``step(closure)`` needs a closure that returns the loss of the current batch as a
      scalar tensor connected to the parameters by autograd, or one loss per example (a
      1-D tensor; KryBall minimises their mean). It is called several times per step (the
      first evaluation with gradient tracking, then the trial points) and must see the same
      batch each time. Trial points are evaluated under ``torch.no_grad``, unless the closure
      differentiates by itself — a physics-informed residual or a gradient penalty, built with
      ``torch.autograd.grad(..., create_graph=True)`` — which KryBall sees in the first
      evaluation: then with gradient tracking (:mod:`kryball.closure`). Any loss whose first
      evaluation works, works. With ``curvature_batch``, a closure that also takes
      ``indices`` and returns those examples' losses gets its Hessian-vector products on a
      sub-batch.
    - KryBall differentiates the loss itself, so the closure need not call backward. One
      that calls ``loss.backward()`` or ``torch.autograd.backward(loss)`` still works: in
      the first evaluation the graph is kept (one extra backward), in trial evaluations the
      call is skipped, and after the step ``.grad`` holds the gradient of that first
      backward, at θ before the step. One that calls backward and returns ``loss.detach()``
      (Lightning's automatic optimisation) works too: the loss whose backward it called is
      taken. With ``curvature_batch``, a closure that cannot take ``indices`` (a framework's)
      calls :func:`kryball.curvature_examples` on its batch.
    - ``.grad`` is never read: gradient clipping, accumulation or any other edit of
      ``.grad`` before ``step()`` has no effect. Change the loss the closure returns
      instead (e.g. average micro-batches inside it).
    - One network per step (:mod:`kryball.repeatable`): every evaluation of a step sees the
      first one's random streams (``same_randomness``); given ``model``, the buffers of its
      modules in training mode (BatchNorm's statistics) advance once per step. Without
      ``model``, a closure running BatchNorm in training mode is refused in one line.
    - An exception (``KeyboardInterrupt`` included) raised by the closure leaves the
      parameters, the state and ``totals`` as before the step, and is raised again.
    - One process: in a process group of several ranks ``step`` refuses, naming
      :class:`kryball.distributed.DistributedKryBall`. A ``torch.compile``d model (AOTAutograd)
      is refused at the first step in one line; ``backend="eager"`` works.
    - Threads: the interception of backward is confined to the thread running the
      closure; other threads' autograd is untouched.
    - There is no learning rate: the trust-region radius, adapted by ρ every step, is
      the step length. A learning-rate scheduler is refused with that message
      (``NoLearningRateError``, a ``KeyError``); there is nothing to schedule.
    - The trainable set is fixed once the state exists: freezing or unfreezing a
      parameter (or adding a group) after the first step raises ``ValueError`` naming
      the tensors; restore ``requires_grad`` or build a new KryBall. Moving the model to
      another dtype or device moves the state with it. ``load_state_dict`` refuses, by
      name, a state saved for parameters of other shapes or in another order.
    - A non-finite loss or gradient leaves the parameters unchanged (see ``last_step``)
      and warns once per optimiser.

    Attributes:
        last_step: a :class:`StepInfo` for the last step (``None`` before the first).
        totals: cumulative counts — steps, accepted, gradient_evals, hvps, loss_evals.
        vectors: the current flat gradient, momentum, saddle-free direction and step.
        flat_state: the state of θ (:class:`kryball.state.FlatState`; ``None`` before the first step).
        state: torch.optim's: θ's state under its first trainable parameter.
    """

    computes_gradients = True  # tells training loops: the closure needs no backward()
    shares_batches = False  # DistributedKryBall: each process evaluates its shard of one batch

    def __init__(self, params, *, model: torch.nn.Module | None = None, **options):
        if "lr" in options:
            raise TypeError(f"KryBall(lr=...): {MESSAGE}")
        unknown = sorted(set(options) - set(HYPERPARAMETERS))
        if unknown:
            raise TypeError(f"KryBall has no option {', '.join(map(repr, unknown))}; its options are "
                            f"{', '.join(HYPERPARAMETERS)} (kryball.Options documents each)")
        if model is not None and not isinstance(model, torch.nn.Module):
            raise TypeError(f"KryBall's model must be the torch.nn.Module the closure evaluates (its buffers advance "
                            f"once per step), got {type(model).__name__}")
        super().__init__(params, Options(**options).as_dict())
        self.model = model  # not a hyperparameter: not in param_groups nor in state_dict()
        self.last_step: StepInfo | None = None
        self._vectors: dict[str, torch.Tensor | None] = dict(gradient=None, momentum=None, sfn_direction=None, step=None)
        self._batched_hvps: bool | None = None  # resolved at the first step, once the device is known
        self._warned_non_finite = False
        self._warned: set[type[Warning]] = set()  # the warnings given once per optimiser

    def __getstate__(self):
        # torch.optim.Optimizer pickles only defaults, state and param_groups; keep ours too.
        # The model is not pickled with its optimiser (a copy of the optimiser would hold a copy of the model):
        # give the copy its model again, ``opt.model = model``.
        return {**super().__getstate__(), "last_step": self.last_step, "_vectors": self._vectors,
                "_batched_hvps": self._batched_hvps, "_warned_non_finite": self._warned_non_finite,
                "_warned": self._warned, "model": None}

    def __setstate__(self, state: dict) -> None:
        """torch.optim's ``__setstate__``, which ``load_state_dict`` calls with the loaded state and groups (after
        torch's pre-hooks, before its post-hooks): θ's saved state becomes a :class:`FlatState` (or is refused as
        not KryBall's before anything changes) and the groups KryBall's here, so that post-hooks see what a step
        will use. (:meth:`load_state_dict` has refused a state of other parameters already.)"""
        groups = [ParamGroup(group, **Options.of(group).as_dict()) for group in state["param_groups"]]
        loaded = defaultdict(dict)
        for holder, saved in state["state"].items():  # load_state_dict's plain form (FlatState.as_dict) converted
            loaded[holder] = FlatState.from_dict(saved, like=holder) if isinstance(saved, dict) else saved
        super().__setstate__({**state, "state": loaded, "param_groups": groups})
        self.__dict__.setdefault("model", None)  # unpickled (load_state_dict keeps the model it has)
        self.__dict__.setdefault("_warned", set())

    def add_param_group(self, param_group: dict) -> None:
        if self.flat_state is not None:
            raise ValueError(f"KryBall has stepped, and its state (trust-region radius, momentum, Krylov basis) belongs "
                             f"to the parameters it stepped: a group {len(self.param_groups)} added now cannot join "
                             "them. Build a new KryBall for the new set of parameters")
        if isinstance(param_group, dict):
            _refuse_unknown_keys(param_group, len(self.param_groups))
        params = param_group.get("params") if isinstance(param_group, dict) else None
        if params is not None and not isinstance(params, (torch.Tensor, set)):  # torch refuses sets, wraps a tensor
            params = list(params)
            refuse_duplicates([p[1] if isinstance(p, tuple) else p for p in params], len(self.param_groups))
            param_group = {**param_group, "params": params}
        super().add_param_group(ParamGroup(param_group) if isinstance(param_group, dict) else param_group)
        group, first = self.param_groups[-1], self.param_groups[0]
        group.update(Options.of(group).as_dict())
        for name in HYPERPARAMETERS:
            if group[name] != first[name]:
                self.param_groups.pop()
                raise ValueError(f"KryBall treats all parameters as one vector: {name} must be the same in every group")

    @property
    def flat_state(self) -> FlatState | None:
        """The state of θ (``None`` before the first step)."""
        return self._flat_state_item()[1]

    def _flat_state_item(self) -> tuple[torch.Tensor | None, FlatState | None]:
        """θ's state and the parameter it is kept under, among whatever else others wrote into ``self.state``."""
        return next(((holder, state) for holder, state in self.state.items() if isinstance(state, FlatState)),
                    (None, None))

    def state_dict(self) -> dict:
        """torch.optim's ``state_dict``, θ's state written as plain tensors, numbers and lists
        (:meth:`kryball.state.FlatState.as_dict`) under the position of its first trainable parameter."""
        holder, state = self._flat_state_item()
        if holder is None:
            return super().state_dict()
        self.state[holder] = state.as_dict()  # for the call, so that torch's hooks see what is saved
        try:
            return super().state_dict()
        finally:
            self.state[holder] = state

    def load_state_dict(self, state_dict: dict) -> None:
        """Resume from ``state_dict()``: torch's checks of the groups, its casts and its pre- and post-hooks, with θ's
        state made a :class:`FlatState` in between (:meth:`__setstate__`); a state of other parameters is refused
        by name, and then nothing changes."""
        saved = next(iter(state_dict.get("state", {}).values()), None)
        if isinstance(saved, dict) and "shapes" in saved:  # named here, before torch's count of the groups' tensors
            refuse_other_parameters(self.param_groups, saved["shapes"])
        super().load_state_dict(state_dict)

    @property
    def totals(self) -> dict[str, int]:
        """Cumulative counts since construction (restored by ``load_state_dict``)."""
        return dataclasses.asdict(self.flat_state.totals if self.flat_state is not None else Totals())

    @property
    def samples_curvature(self) -> bool:
        """Whether the curvature is taken on sub-batches (``curvature_batch``): ``step`` then wants a closure
        that returns per-example losses and takes ``indices`` (:mod:`kryball.closure`)."""
        return self.defaults["curvature_batch"] is not None

    @property
    def wants_residuals(self) -> bool:
        """Whether ``step`` takes :class:`kryball.Residuals` from a closure whose loss is least squares: the curvature
        it would use when given them is built from them (``"gauss_newton"``, ``"auto"``)."""
        return products_for(self.defaults["curvature"], residuals_given=True).takes_residuals

    @property
    def needs_residuals(self) -> bool:
        """Whether ``step`` refuses a closure that returns a loss rather than residuals: the curvature it would use
        without them is still built from them (``"gauss_newton"``)."""
        return products_for(self.defaults["curvature"], residuals_given=False).takes_residuals

    @property
    def vectors(self) -> dict[str, torch.Tensor | None]:
        """Flat views of the last step's gradient, momentum, saddle-free direction and step."""
        return dict(self._vectors)

    def step(self, closure=None):
        """One iteration of thesis Algorithm 4; returns the loss at the current point θ_t (detached).

        An exception (or ``KeyboardInterrupt``) raised by the closure at any of the step's evaluations leaves the
        parameters, the state and ``totals`` — and the model's buffers, given ``model`` — as they were before the
        step, and is raised again."""
        if closure is None:
            raise RuntimeError("KryBall.step needs a closure that returns the loss, e.g. "
                               "opt.step(lambda: loss_fn(model(x), y)); it evaluates it several times per step")
        params = self._trainable_params()
        if not params:
            raise ValueError("KryBall has no trainable parameters (all have requires_grad=False)")
        self._refuse_process_group()
        options = Options.of(self.param_groups[0])
        before = _Before(self)
        state = self._state_of(params, options)
        with torch.no_grad():
            theta = flatten(params)
        repeats = Repeats(params[0].device, options.same_randomness, self.model)
        try:
            with explained_double_backward():  # a compiled model's refusal, in one line
                return self._step(Closure(closure, repeats), params, theta, options, state)
        except BaseException:
            before.restore(params, theta)
            repeats.undo()
            raise

    def _step(self, closure: Closure, params: list[torch.Tensor], theta: torch.Tensor, options: Options,
              state: FlatState) -> torch.Tensor:
        """The step itself (:meth:`step`): reads top to bottom as thesis Algorithm 4."""
        totals = state.totals
        totals.steps += 1
        evaluations_before = totals.loss_evals

        # Line 4: the loss and the gradient g_t. Every later evaluation of the step sees this one's random streams,
        # and undoes its buffer updates (kryball/repeatable.py).
        loss = closure.with_graph()
        totals.loss_evals += 1
        grads = _grads_of(params) if closure.called_backward else None  # the gradient at θ_t its backward gave
        if not torch.isfinite(loss):
            return self._unchanged(Status.NON_FINITE_LOSS, loss, state)
        hvp = self._curvature_products(loss, params, options, closure, state)
        totals.gradient_evals += 1
        g = hvp.gradient
        if not torch.isfinite(g).all():
            return self._unchanged(Status.NON_FINITE_GRADIENT, loss, state)
        if needs_moments(options):
            update_moments(state, g, options.adam_betas)

        # Lines 5–14: a new Krylov basis and saddle-free direction when due; the search subspace, its curvature.
        refreshed = state.since_refresh >= options.refresh
        subspace = search_subspace(g, hvp, state, options, refreshed)
        totals.hvps += hvp.count
        if subspace is None:
            return self._unchanged(Status.NON_FINITE_CURVATURE, loss, state, refreshed=refreshed, hvps=hvp.count)
        self._batched_hvps = hvp.batched

        # Lines 15–19: solve the subproblem, try the step, ρ, accept or reject, update the radius.
        trial = TrialPoints(params, closure, totals, theta)
        outcome = trust_region_step(subspace.model(), state.radius, loss.item(), trial, options)
        state.radius = outcome.info.radius
        totals.accepted += int(outcome.info.accepted)
        if outcome.tried is not None:
            self._vectors["step"] = outcome.tried
        if grads is not None:  # trial evaluations zeroed it and skipped their backward: .grad is θ_t's, as documented
            for p, grad in zip(params, grads):
                p.grad = grad

        # Lines 20–21: the momentum and the rest of the bookkeeping.
        if refreshed:
            state.krylov_basis, state.krylov_curvature = subspace.krylov
            self._vectors["sfn_direction"] = subspace.sfn_direction
        state.since_refresh = 1 if refreshed else state.since_refresh + 1
        self._finish(state, options, g, outcome.taken)
        self.last_step = dataclasses.replace(
            outcome.info, refreshed=refreshed, subspace_dim=subspace.coordinates.shape[1], hvps=hvp.count,
            krylov_dim=subspace.krylov[0].shape[1] if refreshed else 0,
            loss_evals=totals.loss_evals - evaluations_before,  # with a sub-batch's evaluation, if any
            ritz_values=None if subspace.ritz_values is None else tuple(subspace.ritz_values.tolist()))
        return loss.detach()

    def _refuse_process_group(self) -> None:
        """KryBall on several processes would step each on its own shard and drift apart, silently: DDP averages
        ``.grad``, which KryBall never reads. Refused, naming the optimiser that shares the batch."""
        if not self.shares_batches and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            raise RuntimeError(f"KryBall runs in one process, and this one is one of {dist.get_world_size()} in a "
                               "process group: use kryball.distributed.DistributedKryBall, which takes each step on "
                               "the batch the processes share (docs/scaling.md)")

    def _warn_once(self, message: str, category: type[Warning]) -> None:
        if category not in self._warned:
            self._warned.add(category)
            warnings.warn(message, category, stacklevel=_caller_of_kryball())

    def _curvature_products(self, loss, params, options, closure, state) -> CurvatureProducts:
        """The gradient at θ_t and products with the curvature there (``curvature``: the Hessian, or the Gauss–Newton
        matrix of the closure's residuals) — of the batch, or of this step's sub-batch (``curvature_batch``) —
        batching resolved once, on the first step."""
        if self._batched_hvps is None:
            self._batched_hvps = params[0].is_cuda if options.batched_hvps is None else options.batched_hvps
        products = products_for(options.curvature, residuals_given=closure.outputs is not None)
        curvature_loss = self._sub_batch_loss(params, options, closure, state)
        if curvature_loss is None:
            return products(_differentiated(loss, closure, products), params, batched=self._batched_hvps)
        g = gradient(loss, params)  # the whole batch's gradient needs no graph; freeing it first saves memory
        state.totals.loss_evals += 1
        sub_batch_loss = curvature_loss()
        return products(_differentiated(sub_batch_loss, closure, products), params, batched=self._batched_hvps,
                        gradient=g)

    def _sub_batch_loss(self, params, options, closure, state) -> Callable[[], torch.Tensor] | None:
        """With ``curvature_batch``: evaluates the loss of this step's sub-batch, with a graph, whose Hessian the
        products take (:mod:`kryball.closure`); ``None``: the products take the whole batch's."""
        indices = curvature_indices(closure.batch_size, closure.takes_indices, state, options, warn=self._warn_once)
        return None if indices is None else lambda: closure.with_graph(indices)

    def _unchanged(self, status: Status, loss: torch.Tensor, state: FlatState, **details) -> torch.Tensor:
        """End a step that changed nothing but the counts (a non-finite loss, gradient or curvature)."""
        self.last_step = StepInfo(status, loss.item(), radius=state.radius, **details)
        if status in (Status.NON_FINITE_LOSS, Status.NON_FINITE_GRADIENT) and not self._warned_non_finite:
            self._warned_non_finite = True  # once: a diverged run would otherwise warn every step
            warnings.warn(f"KryBall step {state.step + 1}: the closure gave a {status.value} "
                          f"(loss {loss.item()}), so the step left the parameters unchanged; last_step.status says so "
                          "for every step (this warning is shown once)", RuntimeWarning,
                          stacklevel=_caller_of_kryball())
        return loss.detach()

    def _finish(self, state: FlatState, options: Options, g: torch.Tensor, taken: torch.Tensor | None) -> None:
        """Every step's bookkeeping once θ has moved by ``taken`` (``None``: it did not): line 20's momentum
        z ← βz + g, and the previous step when it is a search direction."""
        state.momentum.mul_(options.momentum).add_(g)
        if taken is not None and "previous_step" in options.directions:
            state.previous_step = taken
        state.step += 1
        self._vectors.update(gradient=g, momentum=state.momentum)

    def _trainable_params(self) -> list[torch.Tensor]:
        return [p for p in all_params(self.param_groups) if p.requires_grad]

    def _state_of(self, params: list[torch.Tensor], options: Options) -> FlatState:
        """The state of the flat vector θ, created on the first step (lines 1–2: Δ ← Δ₀, z ← 0), for the trainable
        set it was created for; moved along when the model was moved to another dtype or device."""
        positions = trainable_positions(self.param_groups)
        check_steppable(self.param_groups, positions)
        n = sum(p.numel() for p in params)
        if self.flat_state is None:
            self.state[params[0]] = FlatState.start(params[0], n, float(options.initial_radius), positions,
                                                    shapes(self.param_groups), options.refresh)
            if "previous_step" in options.directions:
                self.state[params[0]].previous_step = params[0].new_zeros(n)  # θ has not moved yet
        holder, state = self._flat_state_item()
        refuse_changed_set(self.param_groups, state.trainable, positions)
        if state.momentum.numel() != n:  # the same tensors, resized in place
            raise ValueError(f"KryBall's state is for {state.momentum.numel()} numbers but the trainable parameters "
                             f"now hold {n}: a parameter changed its shape")
        if state.momentum.dtype != params[0].dtype or state.momentum.device != params[0].device:
            self.state[holder] = state = state.moved(params[0])
        return state


def _differentiated(loss: torch.Tensor, closure: Closure, products: type[CurvatureProducts]):
    """What the curvature products differentiate: the loss (the Hessian's), or the outputs it was made of (the
    Gauss–Newton matrix's: :class:`kryball.Residuals`, :class:`kryball.Outputs`)."""
    if not products.takes_residuals:
        return loss
    if closure.outputs is None:
        raise TypeError("KryBall: curvature='gauss_newton' needs a closure that returns kryball.Residuals(r), the "
                        "residuals of a least-squares loss (mean_i Σ_j r_ij²), or kryball.Outputs(f, t, "
                        "'cross_entropy'), the outputs with their targets and loss, not the loss itself")
    return closure.outputs


class _Before:
    """What a step may change before its last closure call, as it was before the step: what
    :meth:`KryBall.step` puts back when an exception interrupts it. θ's state is copied (:meth:`FlatState.copy`:
    the counts and the sampler; the tensors are replaced, not changed in place, until the last closure call)."""

    def __init__(self, optimizer: KryBall):
        self._optimizer = optimizer
        self._state = {holder: state.copy() if isinstance(state, FlatState) else state
                       for holder, state in optimizer.state.items()}
        self._last_step, self._vectors = optimizer.last_step, dict(optimizer._vectors)

    def restore(self, params: list[torch.Tensor], theta: torch.Tensor) -> None:
        with torch.no_grad():
            assign(params, theta)  # exactly the old values
        optimizer = self._optimizer
        optimizer.state.clear()
        optimizer.state.update(self._state)
        optimizer.last_step, optimizer._vectors = self._last_step, self._vectors


def _caller_of_kryball() -> int:
    """The ``stacklevel`` that makes a warning name the first line outside this package and torch.optim's wrapper
    of ``step``: the call of ``step()`` (a framework's, under Lightning)."""
    package, wrapper = os.path.dirname(__file__), inspect.getfile(Optimizer)
    frame, level = sys._getframe(1), 1
    while frame is not None and (os.path.dirname(frame.f_code.co_filename) == package
                                 or frame.f_code.co_filename == wrapper):
        frame, level = frame.f_back, level + 1
    return level


def _grads_of(params: list[torch.Tensor]) -> list[torch.Tensor | None]:
    """The parameters' ``.grad`` as they are now, copied (a later ``zero_grad(set_to_none=False)`` zeroes in place)."""
    return [None if p.grad is None else p.grad.clone() for p in params]


def _refuse_unknown_keys(group: dict, index: int) -> None:
    """A parameter group holds its tensors and KryBall's options only: a learning rate, or an option of another
    optimiser (``weight_decay``), would be ignored without a word."""
    if "lr" in group:
        raise ValueError(f"KryBall: parameter group {index} sets lr. {MESSAGE}")
    unknown = [key for key in group if key not in GROUP_KEYS and key not in HYPERPARAMETERS]
    if unknown:
        raise ValueError(f"KryBall: parameter group {index} sets {', '.join(map(repr, unknown))}, which KryBall does "
                         f"not use; a group holds {', '.join(GROUP_KEYS)} and KryBall's options ({', '.join(HYPERPARAMETERS)}), "
                         "the same in every group")


# KryBall(params, krylov_dim=..., ...): show the hyperparameters in help() and inspect.signature, from Options.
KryBall.__init__.__signature__ = inspect.signature(KryBall.__init__).replace(parameters=[
    *list(inspect.signature(KryBall.__init__).parameters.values())[:3],
    *(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
      for f in dataclasses.fields(Options))])
