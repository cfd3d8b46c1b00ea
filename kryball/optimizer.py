"""``KryBall``: the optimiser class — thesis Algorithm 4 as ``step``, bookkeeping around pure pieces.

One call ``loss = opt.step(closure)`` is one iteration of thesis Algorithm 4, as
implemented (docs/design.md): the loss and gradient; on refresh steps the Krylov
basis and saddle-free direction; the search subspace and the curvature along it; the
exact trust-region subproblem; one trial evaluation, ρ, accept or reject, the radius;
the momentum. Each option beyond the thesis is a piece called from ``step``. All
trainable tensors of all parameter groups form one flat vector θ (``kryball.parameters``
says which tensors can be part of it). The state lives with the first trainable parameter
(as in ``torch.optim.LBFGS``) and records the trainable set it belongs to, so
``state_dict()`` and ``load_state_dict()`` resume a run exactly and a changed set is
refused by name rather than silently restarted.
"""

import dataclasses
import inspect
import warnings
from collections.abc import Callable

import torch
from torch.optim import Optimizer

from . import extra_directions, first_order, hybrid, refresh, sub_batch
from .closure import Closure
from .flat import assign, flatten
from .hvp import HessianVectorProducts, gradient
from .momentum import update_momentum
from .no_learning_rate import ParamGroup
from .options import HYPERPARAMETERS, Options
from .parameters import (all_params, check_steppable, refuse_changed_set, refuse_duplicates,
                         refuse_other_parameters, shapes, trainable_positions)
from .search_subspace import keep_krylov_basis, search_subspace
from .step_info import Status, StepInfo
from .trust_region_loop import TrialPoints, trust_region_step


class KryBall(Optimizer):
    """Krylov saddle-free Newton in a trust region; no learning rate (thesis Algorithm 4).

    Args:
        params: parameters or parameter groups, as for any ``torch.optim`` optimiser
            (``named_parameters()`` too: messages then use the names). All groups form
            one flat vector and share one set of hyperparameters (read from the first
            group); frozen tensors (``requires_grad=False``) are skipped. The trainable
            tensors must be dense, real floating-point, of one dtype and device, each
            given once.
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
      evaluation works, works. With ``curvature_batch``, a closure that also
      takes ``indices`` and returns those examples' losses gets its Hessian-vector
      products on a sub-batch (:mod:`kryball.sub_batch`).
    - KryBall differentiates the loss itself, so the closure need not call backward. One
      that calls ``loss.backward()`` or ``torch.autograd.backward(loss)`` still works: in
      the first evaluation the graph is kept and the gradient lands in ``.grad`` (one
      extra backward; it is the gradient at θ before the step), in trial evaluations
      the call is skipped.
    - ``.grad`` is never read: gradient clipping, accumulation or any other edit of
      ``.grad`` before ``step()`` has no effect. Change the loss the closure returns
      instead (e.g. average micro-batches inside it).
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
    """

    computes_gradients = True  # tells training loops: the closure needs no backward()

    def __init__(self, params, **options):
        super().__init__(params, Options(**options).as_dict())
        self.last_step: StepInfo | None = None
        self._vectors: dict[str, torch.Tensor | None] = dict(gradient=None, momentum=None, sfn_direction=None, step=None)
        self._batched_hvps: bool | None = None  # resolved at the first step, once the device is known
        self._warned_non_finite = False

    def __getstate__(self):
        # torch.optim.Optimizer pickles only defaults, state and param_groups; keep ours too.
        return {**super().__getstate__(), "last_step": self.last_step, "_vectors": self._vectors,
                "_batched_hvps": self._batched_hvps, "_warned_non_finite": self._warned_non_finite}

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("_warned_non_finite", False)  # pickled by a version without the warning

    def add_param_group(self, param_group: dict) -> None:
        if self._state_holder() is not None:
            raise ValueError(f"KryBall has stepped, and its state (trust-region radius, momentum, Krylov basis) belongs "
                             f"to the parameters it stepped: a group {len(self.param_groups)} added now cannot join "
                             "them. Build a new KryBall for the new set of parameters")
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

    def load_state_dict(self, state_dict: dict) -> None:
        for saved in state_dict.get("state", {}).values():
            if isinstance(saved, dict) and "shapes" in saved:  # the parameters' shapes when it was saved
                refuse_other_parameters(self.param_groups, saved["shapes"])
        super().load_state_dict(state_dict)
        # torch builds new plain dicts for the groups: make them KryBall's again (no learning rate to schedule);
        # a saved tuple may come back as a list.
        self.param_groups = [ParamGroup(group, **Options.of(group).as_dict()) for group in self.param_groups]

    @property
    def totals(self) -> dict[str, int]:
        """Cumulative counts since construction (restored by ``load_state_dict``)."""
        holder = self._state_holder()
        return dict(self.state[holder]["totals"] if holder is not None else _zero_totals())

    @property
    def samples_curvature(self) -> bool:
        """Whether the curvature is taken on sub-batches (``curvature_batch``): ``step`` then wants a closure
        that returns per-example losses and takes ``indices`` (:mod:`kryball.sub_batch`)."""
        return self.defaults["curvature_batch"] is not None

    @property
    def vectors(self) -> dict[str, torch.Tensor | None]:
        """Flat views of the last step's gradient, momentum, saddle-free direction and step."""
        return dict(self._vectors)

    def step(self, closure=None):
        """One iteration of thesis Algorithm 4 (or a hybrid phase's first-order step); returns the loss at the
        current point θ_t (detached)."""
        if closure is None:
            raise RuntimeError("KryBall.step needs a closure that returns the loss, e.g. "
                               "opt.step(lambda: loss_fn(model(x), y)); it evaluates it several times per step")
        params = self._trainable_params()
        if not params:
            raise ValueError("KryBall has no trainable parameters (all have requires_grad=False)")
        options = Options.of(self.param_groups[0])
        state = self._flat_state(params, options)
        totals = state["totals"]
        totals["steps"] += 1
        evaluations_before = totals["loss_evals"]

        # Line 4: the loss and the gradient g_t.
        closure = Closure(closure)  # per-example losses → their mean; sub-batches for curvature; trial points
        loss = closure.with_graph()
        totals["loss_evals"] += 1
        if not torch.isfinite(loss):
            return self._unchanged(Status.NON_FINITE_LOSS, loss, state)
        if hybrid.in_first_order_phase(state, options):  # hybrid phases, beyond the thesis (§6.2.1)
            totals["gradient_evals"] += 1
            return self._first_order_step(params, loss, gradient(loss, params), state, options)
        hvp = self._hessian_vector_products(loss, params, options, closure, state)
        totals["gradient_evals"] += 1
        g = hvp.gradient
        if not torch.isfinite(g).all():
            return self._unchanged(Status.NON_FINITE_GRADIENT, loss, state)
        if hybrid.switches_now(state, options, g):  # hybrid phases, beyond the thesis (§6.2.1)
            return self._first_order_step(params, loss, g, state, options)
        first_order.track_moments(state, g, options)  # for the options that read Adam's moments

        # Lines 5–14: a new Krylov basis and saddle-free direction when due; the search subspace, its curvature.
        refreshed = refresh.is_due(state, options)
        subspace = search_subspace(g, hvp, state, options, refreshed)
        totals["hvps"] += hvp.count
        if subspace is None:
            return self._unchanged(Status.NON_FINITE_CURVATURE, loss, state, refreshed=refreshed, hvps=hvp.count)
        self._batched_hvps = hvp.batched

        # Lines 15–19: solve the subproblem, try the step, ρ, accept or reject, update the radius.
        trial = TrialPoints(params, closure, totals)
        outcome = trust_region_step(subspace.model(), state["radius"], loss.item(), trial, options)
        if outcome.info.status is Status.REJECTED and options.fallback:  # the thesis: θ stays where it was
            outcome = hybrid.fallback_step(outcome, g, state, options, trial)
        state["radius"] = outcome.info.radius
        totals["accepted"] += int(outcome.info.accepted)
        if outcome.tried is not None:
            self._vectors["step"] = outcome.tried

        # Lines 20–21: the momentum and the rest of the bookkeeping.
        if refreshed:
            keep_krylov_basis(state, subspace)
            self._vectors["sfn_direction"] = subspace.sfn_direction
        refresh.record(state, refreshed, outcome.info.rho)
        self._finish(state, options, g, outcome.taken)
        self.last_step = dataclasses.replace(
            outcome.info, refreshed=refreshed, subspace_dim=subspace.coordinates.shape[1], hvps=hvp.count,
            loss_evals=totals["loss_evals"] - evaluations_before,  # with a sub-batch's evaluation, if any
            ritz_values=None if subspace.ritz_values is None else tuple(subspace.ritz_values.tolist()))
        return loss.detach()

    def _hessian_vector_products(self, loss, params, options, closure, state) -> HessianVectorProducts:
        """The gradient at θ_t and products with the Hessian there — of the batch, or of this step's sub-batch
        (``curvature_batch``) — batching resolved once, on the first step."""
        if self._batched_hvps is None:
            self._batched_hvps = params[0].is_cuda if options.batched_hvps is None else options.batched_hvps
        curvature_loss = self._sub_batch_loss(params, options, closure, state)
        if curvature_loss is None:
            return HessianVectorProducts(loss, params, batched=self._batched_hvps)
        g = gradient(loss, params)  # the whole batch's gradient needs no graph; freeing it first saves memory
        state["totals"]["loss_evals"] += 1
        return HessianVectorProducts(curvature_loss(), params, batched=self._batched_hvps, gradient=g)

    def _sub_batch_loss(self, params, options, closure, state) -> Callable[[], torch.Tensor] | None:
        """With ``curvature_batch``: evaluates the loss of this step's sub-batch, with a graph, whose Hessian the
        products take (:mod:`kryball.sub_batch`); ``None``: the products take the whole batch's."""
        indices = sub_batch.curvature_indices(closure.batch_size, closure.takes_indices, state, options)
        return None if indices is None else lambda: closure.with_graph(indices)

    @torch.no_grad()
    def _first_order_step(self, params, loss, g, state, options) -> torch.Tensor:
        """A step of the configured first-order optimiser along the gradient ``g`` (hybrid phases, thesis §6.2.1)."""
        if not torch.isfinite(g).all():
            return self._unchanged(Status.NON_FINITE_GRADIENT, loss, state)
        first_order.track_moments(state, g, options)
        p = first_order.first_order_step(g, state, options)
        assign(params, flatten(params) + p)
        self._vectors["step"] = p
        self._finish(state, options, g, p)
        self.last_step = StepInfo(Status.FIRST_ORDER, loss.item(), radius=state["radius"], step_norm=p.norm().item())
        return loss.detach()

    def _unchanged(self, status: Status, loss: torch.Tensor, state: dict, **details) -> torch.Tensor:
        """End a step that changed nothing but the counts (a non-finite loss, gradient or curvature)."""
        self.last_step = StepInfo(status, loss.item(), radius=state["radius"], **details)
        if status in (Status.NON_FINITE_LOSS, Status.NON_FINITE_GRADIENT) and not self._warned_non_finite:
            self._warned_non_finite = True  # once: a diverged run would otherwise warn every step
            warnings.warn(f"KryBall step {state['step'] + 1}: the closure gave a {status.value} "
                          f"(loss {loss.item()}), so the step left the parameters unchanged; last_step.status says so "
                          "for every step (this warning is shown once)", RuntimeWarning,
                          stacklevel=4)  # the line that called step()
        return loss.detach()

    def _finish(self, state: dict, options: Options, g: torch.Tensor, taken: torch.Tensor | None) -> None:
        """Every step's bookkeeping once θ has moved by ``taken`` (``None``: it did not): line 20's momentum."""
        z = update_momentum(state, options, g, taken)
        extra_directions.remember_step(state, taken)
        state["step"] += 1
        self._vectors.update(gradient=g, momentum=z)

    def _trainable_params(self) -> list[torch.Tensor]:
        return [p for p in all_params(self.param_groups) if p.requires_grad]

    def _state_holder(self) -> torch.Tensor | None:
        """The parameter the state lives on: the first trainable one when the state was created (None before)."""
        return next((p for p in all_params(self.param_groups) if self.state.get(p)), None)

    def _flat_state(self, params: list[torch.Tensor], options: Options) -> dict:
        """The state of the flat vector θ, created on the first step (lines 1–2: Δ ← Δ₀, z ← 0), for the
        trainable set it was created for."""
        positions = trainable_positions(self.param_groups)
        check_steppable(self.param_groups, positions)
        n = sum(p.numel() for p in params)
        holder = self._state_holder()
        state = self.state[params[0] if holder is None else holder]
        if not state:
            state.update(step=0, radius=float(options.initial_radius), momentum=params[0].new_zeros(n),
                         krylov_basis=params[0].new_zeros(n, 0), krylov_curvature=[], totals=_zero_totals(),
                         trainable=positions, shapes=shapes(self.param_groups))
        if "trainable" not in state:  # saved before the set was recorded, on the then first trainable parameter
            if holder is not params[0] or state["momentum"].numel() != n:
                raise ValueError("KryBall's loaded state is for another set of trainable parameters than the "
                                 "current one; restore the requires_grad flags it was saved with")
            state["trainable"] = positions
        refuse_changed_set(self.param_groups, state["trainable"], positions)
        if state["momentum"].dtype != params[0].dtype or state["momentum"].device != params[0].device:
            _move_state(state, params[0])  # the model was moved to another dtype or device since the last step
        # The options' state (an initialise also upgrades a state saved before its keys existed).
        refresh.initialise(state, options)
        hybrid.initialise(state)
        extra_directions.initialise(state, options, like=state["momentum"])
        if state["momentum"].numel() != n:  # the same tensors, resized in place
            raise ValueError(f"KryBall's state is for {state['momentum'].numel()} numbers but the trainable parameters "
                             f"now hold {n}: a parameter changed its shape")
        return state


# KryBall(params, krylov_dim=..., ...): show the hyperparameters in help() and inspect.signature, from Options.
KryBall.__init__.__signature__ = inspect.signature(KryBall.__init__).replace(parameters=[
    *list(inspect.signature(KryBall.__init__).parameters.values())[:2],
    *(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
      for f in dataclasses.fields(Options))])


def _move_state(state: dict, like: torch.Tensor) -> None:
    """Floating-point state to ``like``'s dtype and device, the rest to its device (torch.optim's policy)."""
    def moved(value):
        if isinstance(value, torch.Tensor):
            return value.to(device=like.device, dtype=like.dtype if value.is_floating_point() else value.dtype)
        if isinstance(value, (list, tuple)):
            return type(value)(moved(v) for v in value)
        return value

    for key, value in state.items():
        state[key] = moved(value)


def _zero_totals() -> dict[str, int]:
    return dict(steps=0, accepted=0, gradient_evals=0, hvps=0, loss_evals=0)
