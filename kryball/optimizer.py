"""``KryBall``: the optimiser class — thesis Algorithm 4 as ``step``, bookkeeping around pure pieces.

One call ``loss = opt.step(closure)`` is one iteration of thesis Algorithm 4, as
implemented (docs/design.md): the loss and gradient; on refresh steps the Krylov
basis and saddle-free direction; the search subspace and the curvature along it; the
exact trust-region subproblem; one trial evaluation, ρ, accept or reject, the radius;
the momentum. Each option beyond the thesis is a piece called from ``step``. All
trainable tensors of all parameter groups form one flat vector θ. The state lives with
the first trainable parameter (as in ``torch.optim.LBFGS``), so ``state_dict()`` and
``load_state_dict()`` resume a run exactly.
"""

import dataclasses
import inspect

import torch
from torch.optim import Optimizer

from . import extra_directions, first_order, hybrid, refresh, sub_batch
from .closure import loss_with_graph
from .flat import assign, flatten
from .hvp import HessianVectorProducts, gradient
from .momentum import update_momentum
from .options import HYPERPARAMETERS, Options
from .search_subspace import keep_krylov_basis, search_subspace
from .step_info import Status, StepInfo
from .trust_region_loop import TrialPoints, trust_region_step


class KryBall(Optimizer):
    """Krylov saddle-free Newton in a trust region; no learning rate (thesis Algorithm 4).

    Args:
        params: parameters or parameter groups, as for any ``torch.optim`` optimiser.
            All groups form one flat vector and share one set of hyperparameters
            (read from the first group); frozen tensors (``requires_grad=False``) are
            skipped. All trainable tensors must share one floating dtype and device.
        **options: the hyperparameters, by name — the fields of
            :class:`kryball.options.Options`, which gives each one's meaning, default
            and valid values (``HYPERPARAMETERS`` lists the defaults). Those beyond the
            thesis are off by default, so that the step is thesis Algorithm 4.

    ``step(closure)`` needs a closure that returns the loss of the current batch — a
    scalar, or one loss per example (a 1-D tensor; KryBall minimises their mean); it
    is called several times per step and must see the same batch each time.
    KryBall differentiates it itself, so it need not call ``backward()`` (one that
    does still works, at the cost of one extra backward per step). With
    ``curvature_batch``, a closure that also takes ``indices`` and returns those
    examples' losses gets its Hessian-vector products on a sub-batch
    (:mod:`kryball.sub_batch`).

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

    def __getstate__(self):
        # torch.optim.Optimizer pickles only defaults, state and param_groups; keep ours too.
        return {**super().__getstate__(), "last_step": self.last_step, "_vectors": self._vectors,
                "_batched_hvps": self._batched_hvps}

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group, first = self.param_groups[-1], self.param_groups[0]
        group.update(Options.of(group).as_dict())
        for name in HYPERPARAMETERS:
            if group[name] != first[name]:
                raise ValueError(f"KryBall treats all parameters as one vector: {name} must be the same in every group")

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # a saved tuple may come back as a list
            group.update(Options.of(group).as_dict())

    @property
    def totals(self) -> dict[str, int]:
        """Cumulative counts since construction (restored by ``load_state_dict``)."""
        params = self._trainable_params()
        state = self.state[params[0]] if params else {}
        return dict(state.get("totals") or _zero_totals())

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
        closure = sub_batch.ExampleClosure(closure)  # per-example losses → their mean; sub-batches for curvature
        loss = loss_with_graph(closure)
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
        indices = sub_batch.curvature_indices(closure, state, options)
        if indices is None:
            return HessianVectorProducts(loss, params, batched=self._batched_hvps)
        g = gradient(loss, params)  # the whole batch's gradient needs no graph; freeing it first saves memory
        curvature_loss = loss_with_graph(lambda: closure.on(indices))
        state["totals"]["loss_evals"] += 1
        return HessianVectorProducts(curvature_loss, params, batched=self._batched_hvps, gradient=g)

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
        return loss.detach()

    def _finish(self, state: dict, options: Options, g: torch.Tensor, taken: torch.Tensor | None) -> None:
        """Every step's bookkeeping once θ has moved by ``taken`` (``None``: it did not): line 20's momentum."""
        z = update_momentum(state, options, g, taken)
        extra_directions.remember_step(state, taken)
        state["step"] += 1
        self._vectors.update(gradient=g, momentum=z)

    def _trainable_params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"] if p.requires_grad]

    def _flat_state(self, params: list[torch.Tensor], options: Options) -> dict:
        """The state of the flat vector θ, created on the first step (lines 1–2: Δ ← Δ₀, z ← 0)."""
        for p in params:
            if not p.is_floating_point() or p.is_sparse or p.dtype != params[0].dtype or p.device != params[0].device:
                raise ValueError("KryBall needs dense floating-point parameters of one dtype and device; "
                                 f"got {p.dtype} on {p.device} beside {params[0].dtype} on {params[0].device}")
        n = sum(p.numel() for p in params)
        state = self.state[params[0]]
        if not state:
            state.update(step=0, radius=float(options.initial_radius), momentum=params[0].new_zeros(n),
                         krylov_basis=params[0].new_zeros(n, 0), krylov_curvature=[], totals=_zero_totals())
        # The options' state (an initialise also upgrades a state saved before its keys existed).
        refresh.initialise(state, options)
        hybrid.initialise(state)
        extra_directions.initialise(state, options, like=state["momentum"])
        if state["momentum"].numel() != n:
            raise ValueError(f"KryBall's state is for {state['momentum'].numel()} parameters but {n} are trainable now: "
                             "the set of trainable parameters changed")
        return state


# KryBall(params, krylov_dim=..., ...): show the hyperparameters in help() and inspect.signature, from Options.
KryBall.__init__.__signature__ = inspect.signature(KryBall.__init__).replace(parameters=[
    *list(inspect.signature(KryBall.__init__).parameters.values())[:2],
    *(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
      for f in dataclasses.fields(Options))])


def _zero_totals() -> dict[str, int]:
    return dict(steps=0, accepted=0, gradient_evals=0, hvps=0, loss_evals=0)
