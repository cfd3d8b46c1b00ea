"""``KryBall``: the optimiser class — bookkeeping around the pure functions.

One call ``loss = opt.step(closure)`` is one iteration of thesis Algorithm 4, as
fixed in DESIGN §3: Krylov basis and saddle-free direction on refresh steps,
search subspace {g, z, d} or {g, z, Q}, exact trust-region subproblem, one trial
evaluation, accept/reject and radius update, momentum update. All trainable
tensors of all parameter groups form one flat vector θ. The state lives with the
first trainable parameter (as in ``torch.optim.LBFGS``), so ``state_dict()`` and
``load_state_dict()`` resume a run exactly.
"""

import inspect
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch.optim import Optimizer

from . import first_order
from .closure import loss_with_graph, loss_without_graph
from .flat import assign, flatten
from .hvp import HessianVectorProducts, gradient
from .krylov import dependence_tolerance
from .preconditioning import krylov_direction
from .subspace import extend_basis, orthonormal_coordinates
from .trust_region import is_accepted, predicts_measurable_decrease, reduction_ratio, solve_subproblem, update_radius

class _Subspace(NamedTuple):
    """One step's search subspace: directions E C (E n×e orthonormal, C e×k orthonormal, float64)."""

    basis: torch.Tensor  # E
    curvature: torch.Tensor  # K = EᵀHE
    gradient: torch.Tensor  # Eᵀg
    coordinates: torch.Tensor  # C
    ritz_values: torch.Tensor | None  # eigenvalues of T on refresh steps
    krylov: tuple[torch.Tensor, torch.Tensor] | None  # the new (Q, T) on refresh steps
    sfn_direction: torch.Tensor | None  # Q y, the saddle-free direction, on refresh steps


@dataclass(frozen=True)
class StepInfo:
    """What one ``KryBall.step`` did (``opt.last_step``).

    ``status`` is ``"accepted"``, ``"rejected"``, ``"stationary"`` (the model
    predicts no decrease the loss's precision could show, so no trial is made),
    ``"non-finite loss"`` / ``"non-finite gradient"`` / ``"non-finite curvature"``
    (a Hessian-vector product was not finite; nothing was changed), or, with the
    options of issue 7, ``"fallback"`` (the trust-region step was rejected and a
    first-order step taken instead) and ``"first-order"`` (a hybrid phase's step).
    ``radius`` is the radius after the update; ``ritz_values`` are the
    eigenvalues of the Lanczos matrix T on refresh steps (ascending), else ``None``.
    """

    status: str
    loss: float
    trial_loss: float | None = None
    rho: float | None = None
    radius: float | None = None
    accepted: bool = False
    predicted_reduction: float | None = None
    actual_reduction: float | None = None
    step_norm: float = 0.0
    multiplier: float | None = None
    ritz_values: tuple[float, ...] | None = None
    refreshed: bool = False
    subspace_dim: int = 0
    retries: int = 0
    hvps: int = 0
    loss_evals: int = 1


DIRECTIONS = ("adam", "previous_step")  # extra search directions, by name
# Options beyond thesis Algorithm 4 and their off values (ReferenceKryBall implements none of them).
EXTENSIONS = dict(reuse_curvature=False, directions=(), momentum_from="gradients", preconditioner=None,
                  first_order=None, fallback=False, switch_grad_ratio=None, interleave=None, adaptive_refresh=False)


def _normalised(hp: dict) -> dict:
    """Sequences as tuples (a Hydra ListConfig or a list arrives for ``directions``, ``adam_betas``)."""
    return {**hp, **{name: tuple(hp[name]) for name in ("directions", "adam_betas")
                     if not isinstance(hp[name], (str, bytes)) and hasattr(hp[name], "__iter__")}}


def _validate(hp: dict) -> None:
    def is_int(value):
        return isinstance(value, int) and not isinstance(value, bool)

    def number(value):  # NaN for a non-number, so that every range check below fails
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan

    def optional(name, test):
        return hp[name] is None or test(hp[name])

    directions, betas = hp["directions"], hp["adam_betas"]
    checks = [
        ("krylov_dim", is_int(hp["krylov_dim"]) and hp["krylov_dim"] >= 1, "an integer ≥ 1"),
        ("refresh", is_int(hp["refresh"]) and hp["refresh"] >= 1, "an integer ≥ 1"),
        ("momentum", 0.0 <= number(hp["momentum"]) < 1.0, "in [0, 1)"),
        ("initial_radius", 0.0 < number(hp["initial_radius"]) < math.inf, "positive and finite"),
        ("max_radius", number(hp["initial_radius"]) <= number(hp["max_radius"]) < math.inf,
         "finite and ≥ initial_radius"),
        ("min_radius", 0.0 < number(hp["min_radius"]) <= number(hp["initial_radius"]),
         "positive and ≤ initial_radius"),
        ("eig_clip", 0.0 <= number(hp["eig_clip"]) < math.inf, "non-negative and finite"),
        ("accept_ratio", 0.0 <= number(hp["accept_ratio"]) < 0.25, "in [0, 0.25) (Nocedal & Wright alg. 4.1)"),
        ("max_retries", is_int(hp["max_retries"]) and hp["max_retries"] >= 0, "an integer ≥ 0"),
        ("reuse_curvature", hp["reuse_curvature"] in (True, False), "True or False"),
        ("batched_hvps", hp["batched_hvps"] in (None, True, False), "None, True or False"),
        ("directions", isinstance(directions, tuple) and set(directions) <= set(DIRECTIONS)
         and len(set(directions)) == len(directions), f"distinct names from {DIRECTIONS}"),
        ("momentum_from", hp["momentum_from"] in ("gradients", "steps"), "'gradients' or 'steps'"),
        ("preconditioner", hp["preconditioner"] in (None, "adam"), "None or 'adam'"),
        ("adam_betas", isinstance(betas, tuple) and len(betas) == 2 and all(0 <= number(b) < 1 for b in betas),
         "two numbers in [0, 1)"),
        ("adam_eps", 0.0 < number(hp["adam_eps"]) < math.inf, "positive and finite"),
        ("first_order", hp["first_order"] in (None, "sgd", "adam"), "None, 'sgd' or 'adam'"),
        ("first_order_lr", optional("first_order_lr", lambda v: 0.0 < number(v) < math.inf),
         "None or positive and finite"),
        ("fallback", hp["fallback"] in (True, False), "True or False"),
        ("switch_grad_ratio", optional("switch_grad_ratio", lambda v: 0.0 < number(v) < 1.0), "None or in (0, 1)"),
        ("interleave", optional("interleave", lambda v: is_int(v) and v >= 1), "None or an integer ≥ 1"),
        ("adaptive_refresh", hp["adaptive_refresh"] in (True, False), "True or False"),
    ]
    for name, ok, requirement in checks:
        if not ok:
            raise ValueError(f"KryBall: {name} must be {requirement}, got {hp[name]!r}")
    # Options that need a first-order optimiser, and the optimiser's learning rate.
    for name in ("fallback", "switch_grad_ratio", "interleave"):
        if hp[name] not in (None, False) and hp["first_order"] is None:
            raise ValueError(f"KryBall: {name}={hp[name]!r} takes first-order steps: set first_order ('sgd' or 'adam')")
    if (hp["first_order"] is None) != (hp["first_order_lr"] is None):
        raise ValueError("KryBall: first_order and first_order_lr go together: set both or neither "
                         f"(got first_order={hp['first_order']!r}, first_order_lr={hp['first_order_lr']!r})")


def _uses_adam(hp: dict) -> bool:
    return "adam" in hp["directions"] or hp["preconditioner"] == "adam" or hp["first_order"] == "adam"


class KryBall(Optimizer):
    """Krylov saddle-free Newton in a trust region; no learning rate (thesis Algorithm 4).

    Args:
        params: parameters or parameter groups, as for any ``torch.optim`` optimiser.
            All groups form one flat vector and share one set of hyperparameters
            (read from the first group); frozen tensors (``requires_grad=False``) are
            skipped. All trainable tensors must share one floating dtype and device.
        krylov_dim: Krylov dimension M — Hessian-vector products per refresh.
        refresh: rebuild the Krylov basis every ``refresh`` steps (r_refresh).
        momentum: β of the momentum direction ``z ← βz + g``.
        initial_radius, max_radius, min_radius: trust-region radius Δ₀, cap and floor.
        eig_clip: ε, the floor on |Ritz value| in the saddle-free direction (eq. 4.11).
        accept_ratio: η, the ratio ρ a step must exceed to be accepted.
        max_retries: after a rejection, re-solve the same subproblem at the shrunk
            radius (no new Hessian-vector products) up to this many times.
        reuse_curvature: between refreshes, keep the Lanczos matrix T of the last
            refresh as the curvature inside span(Q) instead of recomputing QᵀHQ at
            the new point: those steps then cost one Hessian-vector product per
            direction outside span(Q) (gradient, momentum) instead of M more.
        batched_hvps: take a step's Hessian-vector products in one vectorised
            backward (True) or one by one (False); ``None`` picks batching on CUDA
            only. An implementation choice like ``foreach`` in ``torch.optim``: the
            products are the same up to round-off.

    Options beyond the thesis (issue 7; all off by default, so that the step is
    thesis Algorithm 4; ``conf/optim/kryball_plus.yaml`` holds the tuned combination):
        directions: extra search directions by name, each one more Hessian-vector
            product per step: ``"adam"``, Adam's m̂/(√v̂ + ε) (thesis §6.2.5), and
            ``"previous_step"``, the last step taken.
        momentum_from: ``"gradients"`` (the thesis: ``z ← βz + g``) or ``"steps"``
            (``z ← βz + p`` over the steps p taken; β = 0 gives the previous step).
        preconditioner: ``"adam"`` builds the Krylov space 𝒦(D⁻¹H, D⁻¹g) with
            D = √v̂ + ε and takes the saddle-free direction in the metric D
            (thesis §3.2.2, :mod:`kryball.preconditioning`); ``None``: 𝒦(H, g).
        adam_betas, adam_eps: β₁, β₂ and ε of the Adam moment estimates behind the
            ``"adam"`` direction, preconditioner and first-order optimiser.
        first_order, first_order_lr: the first-order optimiser of ``fallback``,
            ``switch_grad_ratio`` and ``interleave`` — ``"sgd"`` (step −lr·g) or
            ``"adam"`` (step −lr·m̂/(√v̂ + ε)) — and its learning rate.
        fallback: when the trust-region step is rejected, take a first-order step
            instead of none (thesis §5.5.4); its safeguard is the trust region: the
            step is shortened to the (just shrunk) radius.
        switch_grad_ratio: hybrid phases (thesis §6.2.1): once ‖g‖ falls below this
            fraction of the first step's ‖g‖ (a decay by that factor, whatever the
            loss's scale), every later step is a first-order step.
        interleave: hybrid phases: one KryBall step every ``interleave`` steps,
            first-order steps in between (1: every step is a KryBall step).
        adaptive_refresh: rebuild the Krylov basis early, before ``refresh`` steps
            have passed, when a step on the old basis had ρ < ¼ (the curvature
            model was poor: the radius rule's own signal, thesis §5.5.3).

    ``step(closure)`` needs a closure that returns the loss of the current batch; it
    is called several times per step and must see the same batch each time.
    KryBall differentiates it itself, so it need not call ``backward()`` (one that
    does still works, at the cost of one extra backward per step).

    Attributes:
        last_step: a :class:`StepInfo` for the last step (``None`` before the first).
        totals: cumulative counts — steps, accepted, gradient_evals, hvps, loss_evals.
        vectors: the current flat gradient, momentum, saddle-free direction and step.
    """

    computes_gradients = True  # tells training loops: the closure needs no backward()

    def __init__(
        self,
        params,
        *,
        krylov_dim: int = 5,  # the thesis's sensitivity study (§5.3.4) plateaus from M = 5 on
        refresh: int = 3,  # the thesis's default (§5.3.4): fresher is better but dearer
        momentum: float = 0.9,  # the usual heavy-ball value, a memory of ~10 steps
        initial_radius: float = 1.0,  # scipy's default; ×2 / ×¼ per step corrects it within a few steps
        max_radius: float = 1000.0,  # scipy's default; a cap against a runaway on flat regions
        min_radius: float = 1e-8,  # so that a run of rejections cannot shrink Δ beyond recovery
        eig_clip: float = 1e-4,  # curvature below it is treated as ε (eq. 4.11), bounding the SFN step
        accept_ratio: float = 0.0,  # accept any step that lowers the loss (N&W alg. 4.1 allows [0, ¼))
        max_retries: int = 0,  # the thesis's one trial per step
        reuse_curvature: bool = False,  # the thesis recomputes QᵀHQ at every step
        batched_hvps: bool | None = None,  # batching paid off on CUDA only (docs/performance.md)
        directions: tuple[str, ...] = (),  # the thesis's subspace: gradient, momentum, saddle-free direction
        momentum_from: str = "gradients",  # the thesis's momentum
        preconditioner: str | None = None,  # the thesis's 𝒦(H, g)
        adam_betas: tuple[float, float] = (0.9, 0.999),  # Adam's defaults (Kingma & Ba, 2015)
        adam_eps: float = 1e-8,  # Adam's default
        first_order: str | None = None,  # no first-order steps
        first_order_lr: float | None = None,
        fallback: bool = False,  # a rejected step changes nothing (the thesis)
        switch_grad_ratio: float | None = None,  # KryBall throughout
        interleave: int | None = None,  # KryBall throughout
        adaptive_refresh: bool = False,  # refresh on the fixed schedule
    ):
        defaults = _normalised({name: value for name, value in locals().items() if name in HYPERPARAMETERS})
        _validate(defaults)
        super().__init__(params, defaults)
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
        group.update(_normalised(group))
        _validate(group)
        for name in HYPERPARAMETERS:
            if group[name] != first[name]:
                raise ValueError(f"KryBall treats all parameters as one vector: {name} must be the same in every group")

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # a saved tuple may come back as a list
            group.update(_normalised(group))

    @property
    def totals(self) -> dict[str, int]:
        """Cumulative counts since construction (restored by ``load_state_dict``)."""
        params = self._trainable_params()
        state = self.state[params[0]] if params else {}
        return dict(state.get("totals") or _zero_totals())

    @property
    def vectors(self) -> dict[str, torch.Tensor | None]:
        """Flat views of the last step's gradient, momentum, saddle-free direction and step."""
        return dict(self._vectors)

    def _trainable_params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"] if p.requires_grad]

    def _flat_state(self, params: list[torch.Tensor]) -> dict:
        for p in params:
            if not p.is_floating_point() or p.is_sparse or p.dtype != params[0].dtype or p.device != params[0].device:
                raise ValueError("KryBall needs dense floating-point parameters of one dtype and device; "
                                 f"got {p.dtype} on {p.device} beside {params[0].dtype} on {params[0].device}")
        n = sum(p.numel() for p in params)
        state = self.state[params[0]]
        hp = self.param_groups[0]
        if not state:
            state.update(step=0, radius=float(hp["initial_radius"]), momentum=params[0].new_zeros(n),
                         krylov_basis=params[0].new_zeros(n, 0), krylov_curvature=[], totals=_zero_totals())
        # The options' state; setdefault also upgrades a state saved before they existed (the thesis schedule).
        state.setdefault("since_refresh", state["step"] % hp["refresh"] or hp["refresh"])
        state.setdefault("poor_model", False)
        state.setdefault("switched", False)
        if "previous_step" in hp["directions"]:
            state.setdefault("previous_step", params[0].new_zeros(n))
        if state["momentum"].numel() != n:
            raise ValueError(f"KryBall's state is for {state['momentum'].numel()} parameters but {n} are trainable now: "
                             "the set of trainable parameters changed")
        return state

    def step(self, closure=None):
        """One KryBall iteration (DESIGN §3), or a first-order step of a hybrid phase; returns the
        loss at the current point (detached)."""
        if closure is None:
            raise RuntimeError("KryBall.step needs a closure that returns the loss, e.g. "
                               "opt.step(lambda: loss_fn(model(x), y)); it evaluates it several times per step")
        params = self._trainable_params()
        if not params:
            raise ValueError("KryBall has no trainable parameters (all have requires_grad=False)")
        hp, state = self.param_groups[0], self._flat_state(params)
        totals = state["totals"]
        totals["steps"] += 1

        loss = loss_with_graph(closure)
        totals["loss_evals"] += 1
        if not torch.isfinite(loss):
            self.last_step = StepInfo("non-finite loss", loss.item(), radius=state["radius"])
            return loss.detach()
        if self._first_order_phase(hp, state):
            totals["gradient_evals"] += 1
            return self._first_order_step(params, loss, gradient(loss, params), hp, state)
        if self._batched_hvps is None:
            choice = hp["batched_hvps"]
            self._batched_hvps = params[0].is_cuda if choice is None else choice
        hvp = HessianVectorProducts(loss, params, batched=self._batched_hvps)
        totals["gradient_evals"] += 1
        g = hvp.gradient
        if not torch.isfinite(g).all():
            self.last_step = StepInfo("non-finite gradient", loss.item(), radius=state["radius"])
            return loss.detach()
        grad_norm = g.norm().item()
        state.setdefault("initial_grad_norm", grad_norm)
        if hp["switch_grad_ratio"] is not None and grad_norm < hp["switch_grad_ratio"] * state["initial_grad_norm"]:
            state["switched"] = True  # hybrid phases: from now on first-order steps only
            return self._first_order_step(params, loss, g, hp, state)
        if _uses_adam(hp):
            first_order.update_moments(state, g, hp["adam_betas"])

        refreshed = state["since_refresh"] >= hp["refresh"] or hp["adaptive_refresh"] and state["poor_model"]
        subspace = self._search_subspace(hvp, state, hp, refreshed)
        totals["hvps"] += hvp.count
        if subspace is None:
            self.last_step = StepInfo("non-finite curvature", loss.item(), radius=state["radius"],
                                      refreshed=refreshed, hvps=hvp.count)
            return loss.detach()
        C = subspace.coordinates
        A, b = C.T @ subspace.curvature @ C, C.T @ subspace.gradient

        info = self._trust_region_step(closure, params, loss.item(), g, A, b, subspace.basis, C, state, hp)
        if refreshed:
            Q, T = subspace.krylov
            # T as a list: load_state_dict would cast a tensor to the parameters' dtype.
            state.update(krylov_basis=Q, krylov_curvature=T.tolist())
            self._vectors["sfn_direction"] = subspace.sfn_direction
        state["since_refresh"] = 1 if refreshed else state["since_refresh"] + 1
        # A poor model on an old basis asks for a new one (adaptive_refresh); a fresh one would be the same.
        state["poor_model"] = not refreshed and info.get("rho") is not None and info["rho"] < 0.25
        totals["accepted"] += int(info["accepted"])
        self._batched_hvps = hvp.batched
        self._finish(state, hp, g, info.pop("taken"))
        ritz_values = subspace.ritz_values
        self.last_step = StepInfo(
            loss=loss.item(), refreshed=refreshed, subspace_dim=C.shape[1], hvps=hvp.count,
            ritz_values=None if ritz_values is None else tuple(ritz_values.tolist()), **info)
        return loss.detach()

    def _first_order_phase(self, hp, state) -> bool:
        """Hybrid phases (thesis §6.2.1): is this step a first-order one?"""
        return state["switched"] or hp["interleave"] is not None and state["step"] % hp["interleave"] != 0

    @torch.no_grad()
    def _first_order_step(self, params, loss, g, hp, state) -> torch.Tensor:
        """A step of the configured first-order optimiser (hybrid phases) along the gradient ``g``."""
        if not torch.isfinite(g).all():
            self.last_step = StepInfo("non-finite gradient", loss.item(), radius=state["radius"])
            return loss.detach()
        if _uses_adam(hp):
            first_order.update_moments(state, g, hp["adam_betas"])
        p = -hp["first_order_lr"] * self._first_order_direction(g, state, hp)
        assign(params, flatten(params) + p)
        self._vectors["step"] = p
        self._finish(state, hp, g, p)
        self.last_step = StepInfo("first-order", loss.item(), radius=state["radius"], step_norm=p.norm().item())
        return loss.detach()

    @staticmethod
    def _first_order_direction(g, state, hp) -> torch.Tensor:
        """The (ascent) direction of the first-order optimiser: g for SGD, m̂/(√v̂ + ε) for Adam."""
        return first_order.direction(state, hp["adam_betas"], hp["adam_eps"]) if hp["first_order"] == "adam" else g

    def _finish(self, state, hp, g, taken: torch.Tensor | None) -> None:
        """Every step's bookkeeping once θ has moved by ``taken`` (``None``: it did not)."""
        source = g if hp["momentum_from"] == "gradients" else taken
        z = state["momentum"].mul_(hp["momentum"])
        if source is not None:
            z.add_(source)
        if taken is not None and "previous_step" in state:
            state["previous_step"] = taken
        state["step"] += 1
        self._vectors.update(gradient=g, momentum=z)

    def _extra_directions(self, state, hp) -> list[torch.Tensor]:
        """The ``directions`` option's vectors, in the order named."""
        def named(name):
            if name == "adam":
                return first_order.direction(state, hp["adam_betas"], hp["adam_eps"])
            return state["previous_step"]
        return [named(name) for name in hp["directions"]]

    def _search_subspace(self, hvp, state, hp, refreshed) -> "_Subspace | None":
        """Thesis Algorithm 4 lines 5–14: the search directions and the curvature along them.

        Refresh steps: Lanczos from g, the saddle-free direction d in span(Q), and the
        directions {g, z, d}. Other steps: the directions {g, z, columns of the last Q},
        i.e. all of E. Extra ``directions`` join both sets. ``None`` when a
        Hessian-vector product was not finite.
        """
        g, z = hvp.gradient, state["momentum"]
        extras = self._extra_directions(state, hp)
        if refreshed:
            scale = (first_order.denominator(state, hp["adam_betas"], hp["adam_eps"]).rsqrt_()
                     if hp["preconditioner"] == "adam" else None)
            krylov = krylov_direction(hvp.matvec, g, hp["krylov_dim"], hp["eig_clip"], scale)
            Q, T = krylov.basis, krylov.curvature
            if not torch.isfinite(T).all():
                return None
            # g = ‖g‖q₁ lies in span(Q) of 𝒦(H, g): then only z and the extras can add directions.
            E, K = extend_basis(hvp, Q, T, [*([g] if scale is not None else []), z, *extras])
            Eg = (E.T @ g).double()
            d = torch.cat([krylov.coordinates, krylov.coordinates.new_zeros(E.shape[1] - Q.shape[1])])
            directions = torch.stack([Eg, (E.T @ z).double(), d, *((E.T @ v).double() for v in extras)], dim=1)
            C = orthonormal_coordinates(directions, dependence_tolerance(E.dtype))
            ritz_values, sfn = krylov.ritz_values, Q @ krylov.coordinates.to(Q.dtype)
            krylov = (Q, T)
        else:
            Q, T = state["krylov_basis"], None
            if hp["reuse_curvature"]:
                m = Q.shape[1]
                T = torch.tensor(state["krylov_curvature"], dtype=torch.float64, device=Q.device).reshape(m, m)
            E, K = extend_basis(hvp, Q, T, [g, z, *extras])
            Eg = (E.T @ g).double()
            C = torch.eye(E.shape[1], dtype=torch.float64, device=E.device)  # span{g, z, Q, extras} is all of E
            ritz_values = krylov = sfn = None
        if not torch.isfinite(K).all():
            return None
        return _Subspace(E, K, Eg, C, ritz_values, krylov, sfn)

    @torch.no_grad()
    def _trust_region_step(self, closure, params, loss, g, A, b, E, C, state, hp) -> dict:
        """Solve, try, accept or reject, update Δ (DESIGN §3 steps 5–6); parameters restored on rejection
        (or moved by a first-order step, with ``fallback``). ``taken`` is the step θ moved by, if any.

        The step is p = E (C α): the n×k matrix E C is never formed.
        """
        theta = flatten(params)
        info = dict(status="stationary", radius=state["radius"], accepted=False, loss_evals=1, retries=0, taken=None)
        for attempt in range(hp["max_retries"] + 1):
            solution = solve_subproblem(A, b, state["radius"])
            alpha = solution.step.to(torch.float64)
            predicted = -(b @ alpha + 0.5 * alpha @ A @ alpha).item()
            if not predicts_measurable_decrease(predicted, loss, torch.finfo(theta.dtype).eps):
                break  # stationary to working precision: nothing to try
            p = E @ (C @ alpha).to(E.dtype)
            assign(params, theta + p)
            trial_loss = loss_without_graph(closure).item()
            state["totals"]["loss_evals"] += 1
            actual = loss - trial_loss
            rho = reduction_ratio(actual, predicted)
            accepted = is_accepted(rho, hp["accept_ratio"])
            step_norm = alpha.norm().item()
            state["radius"] = update_radius(state["radius"], rho, step_norm,
                                            max_radius=hp["max_radius"], min_radius=hp["min_radius"])
            self._vectors["step"] = p
            info.update(status="accepted" if accepted else "rejected", accepted=accepted, trial_loss=trial_loss,
                        rho=rho, radius=state["radius"], predicted_reduction=predicted, actual_reduction=actual,
                        step_norm=step_norm, multiplier=solution.multiplier, loss_evals=attempt + 2, retries=attempt,
                        taken=p if accepted else None)
            if accepted:
                break
            assign(params, theta)  # exactly the old values, not θ + p − p
        if info["status"] == "rejected" and hp["fallback"]:
            # Thesis §5.5.4: a first-order step instead of none, no longer than the shrunk radius.
            p = -hp["first_order_lr"] * self._first_order_direction(g, state, hp)
            p *= min(1.0, state["radius"] / max(p.norm().item(), torch.finfo(p.dtype).tiny))
            assign(params, theta + p)
            self._vectors["step"] = p
            info.update(status="fallback", step_norm=p.norm().item(), taken=p)
        return info


# The hyperparameters and their defaults, read off the signature (one source of truth).
HYPERPARAMETERS = {name: parameter.default for name, parameter in inspect.signature(KryBall.__init__).parameters.items()
                   if parameter.kind is inspect.Parameter.KEYWORD_ONLY}


def _zero_totals() -> dict[str, int]:
    return dict(steps=0, accepted=0, gradient_evals=0, hvps=0, loss_evals=0)

