"""KryBall's hyperparameters: each one's default, the reason for it and its valid values, once.

``Options`` is the one place they are written. ``KryBall(params, **options)`` takes the
same names as keywords (Hydra's ``conf/optim/kryball*.yaml`` rely on them), and
everything else about them is derived from this class: ``HYPERPARAMETERS`` (name →
default), ``BEYOND_THESIS`` (the options thesis Algorithm 4 does not have, name → the
value that turns them off, which is their default; ``ReferenceKryBall`` refuses them
on) and the validation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping

from .curvature import AUTO, CURVATURES
from .subspace import EXTRA_DIRECTIONS


@dataclass(frozen=True)
class _Rule:
    """What makes a value valid (given all the options), how to say so, and what kind of option it is."""

    valid: Callable[[Any, Options], bool]
    requirement: str
    beyond_thesis: bool = False


def _option(default, valid, requirement: str, **kind):
    return field(default=default, metadata={_Rule: _Rule(valid, requirement, **kind)})


def _rule(f) -> _Rule:
    return f.metadata[_Rule]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> float:
    """The value as a float, NaN for a non-number: every range check on it then fails."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _integer_at_least(least: int) -> tuple[Callable[[Any, Options], bool], str]:
    return (lambda value, _: _is_int(value) and value >= least), f"an integer ≥ {least}"


def _choice(names) -> tuple[Callable[[Any, Options], bool], str]:
    """A name from ``names``: the test and its wording, both from the one table of names."""
    allowed = list(names)
    spelled = [repr(name) for name in allowed]
    return (lambda value, _: value in allowed), ", ".join(spelled[:-1]) + " or " + spelled[-1]


def _is_bool(value, _) -> bool:
    return value in (True, False)


_FLAG = (_is_bool, "True or False")
_POSITIVE_FINITE = (lambda value, _: 0.0 < _number(value) < math.inf, "positive and finite")


@dataclass(frozen=True, kw_only=True)
class Options:
    """KryBall's hyperparameters: the inputs of thesis Algorithm 4, then the options beyond the thesis.

    The options beyond the thesis are off by default, so that the default step is thesis
    Algorithm 4; ``conf/optim/kryball_plus.yaml`` holds the tuned combination. Sequences
    (a list, a Hydra ListConfig) become tuples. An invalid value raises ``ValueError``
    naming the option.
    """

    krylov_dim: int = _option(5, *_integer_at_least(1))
    """M, the Krylov dimension: Hessian-vector products per refresh. 5: the thesis's sensitivity study (§5.3.4)
    plateaus from M = 5 on."""

    krylov_tol: float | None = _option(None, lambda v, _: v is None or 0.0 < _number(v) < 1.0, "None or in (0, 1)",
                                       beyond_thesis=True)
    """An adaptive Krylov dimension (thesis §5.5.3): Lanczos grows the basis while each new vector adds more than this
    fraction to the decrease that the trust-region model predicts within the Krylov space at the current radius, up to
    ``krylov_dim`` vectors (:func:`kryball.subspace.until_the_model_settles`). ``None``: always ``krylov_dim``, the
    thesis's fixed M."""

    refresh: int = _option(3, *_integer_at_least(1))
    """r_refresh: rebuild the Krylov basis every ``refresh`` steps (Algorithm 4, line 5). 3: the thesis's default
    (§5.3.4); fresher is better but dearer."""

    momentum: float = _option(0.9, lambda v, _: 0.0 <= _number(v) < 1.0, "in [0, 1)")
    """β of the momentum direction ``z ← βz + g`` (line 20). 0.9: the usual heavy-ball value, a memory of ~10 steps."""

    initial_radius: float = _option(1.0, *_POSITIVE_FINITE)
    """Δ₀, the first trust-region radius. 1: scipy's default; ×2 / ×¼ per step corrects it within a few steps."""

    max_radius: float = _option(1000.0, lambda v, o: _number(o.initial_radius) <= _number(v) < math.inf,
                                "finite and ≥ initial_radius")
    """Δ_max, the radius's cap. 1000: scipy's default; a cap against a runaway on flat regions."""

    min_radius: float = _option(1e-8, lambda v, o: 0.0 < _number(v) <= _number(o.initial_radius),
                                "positive and ≤ initial_radius")
    """The radius's floor (beyond Nocedal & Wright's rule), so that a run of rejections (noisy mini-batches)
    cannot shrink Δ beyond recovery."""

    eig_clip: float = _option(1e-4, lambda v, _: 0.0 <= _number(v) < math.inf, "non-negative and finite")
    """ε, the floor on |Ritz value| in the saddle-free direction (eq. 4.11): curvature below it is treated as ε,
    which bounds the step."""

    accept_ratio: float = _option(0.0, lambda v, _: 0.0 <= _number(v) < 0.25,
                                  "in [0, 0.25) (Nocedal & Wright alg. 4.1)")
    """η, the ratio ρ a trial step must exceed to be accepted. 0: accept any step that lowers the loss
    (Nocedal & Wright Algorithm 4.1 allows [0, ¼))."""

    max_retries: int = _option(0, *_integer_at_least(0))
    """After a rejection, re-solve the same subproblem at the shrunk radius (no new Hessian-vector products) up to
    this many times ("reject the step, adapt the radius and try again", §4.3). 0: one trial per step."""

    reuse_curvature: bool = _option(False, *_FLAG, beyond_thesis=True)
    """Between refreshes, keep the Lanczos matrix T of the last refresh as the curvature inside span(Q) instead of
    recomputing QᵀHQ at the new point: those steps then cost one Hessian-vector product per direction outside
    span(Q) (gradient, momentum) instead of M more. Off: the thesis recomputes QᵀHQ at every step."""

    batched_hvps: bool | None = _option(None, lambda v, _: v in (None, True, False), "None, True or False")
    """Take a step's Hessian-vector products in one vectorised backward (True) or one by one (False); ``None``
    batches on CUDA only, where it paid off (docs/performance.md). An implementation choice like ``foreach`` in
    ``torch.optim``: the products are the same up to round-off."""

    same_randomness: bool = _option(True, *_FLAG)
    """Let every evaluation of the closure in one step draw the same random numbers as its first (dropout masks,
    random augmentation; the CPU's generator and the parameters' CUDA device's), so that ρ compares one network at
    two points rather than two networks (:mod:`kryball.repeatable`). Free where the closure draws nothing. Off:
    each evaluation draws afresh, as the thesis's deterministic models never needed to decide."""

    curvature: str = _option("hessian", *_choice((*CURVATURES, AUTO)), beyond_thesis=True)
    """Whose products span the Krylov space and give the model's curvature: ``"hessian"``, the thesis's;
    ``"gauss_newton"``, the generalised Gauss–Newton matrix G = Jᵀ(∇²_f L)J of a loss convex in the network's
    outputs, positive semi-definite (:class:`kryball.curvature.GaussNewtonProducts`), for a closure that returns
    :class:`kryball.Residuals` (least squares: G = (2/N) JᵀJ) or :class:`kryball.Outputs` (cross-entropy,
    squared error); or ``"auto"``, the Gauss–Newton matrix where the closure returns either and the Hessian where
    it returns a loss (:func:`kryball.curvature.products_for`; KryBall+'s, docs/performance.md)."""

    curvature_batch: int | float | None = _option(
        None, lambda v, _: v is None or (_is_int(v) and v >= 1) or (isinstance(v, float) and 0.0 < v <= 1.0),
        "None, an integer ≥ 1 (examples) or a float in (0, 1] (a fraction of the batch)", beyond_thesis=True)
    """Take every Hessian-vector product of a step on a random subset of the batch, drawn afresh each step, while
    the loss, the gradient and the trial point use the whole batch (Martens 2010; Byrd et al. 2011;
    :mod:`kryball.closure`, which gives the closure contract: per-example losses and ``closure(indices)``). An
    integer is a number of examples, a float a fraction of the batch (as ``max_samples`` in scikit-learn).
    ``None``: the thesis's curvature of the whole batch."""

    directions: tuple[str, ...] = _option(
        (), lambda v, _: isinstance(v, tuple) and set(v) <= set(EXTRA_DIRECTIONS) and len(set(v)) == len(v),
        f"distinct names from {tuple(EXTRA_DIRECTIONS)}", beyond_thesis=True)
    """Extra search directions by name (:data:`kryball.subspace.EXTRA_DIRECTIONS`), one Hessian-vector product each:
    ``"adam"``, Adam's m̂/(√v̂ + ε) (§6.2.5), and ``"previous_step"``, the last step taken. Empty: the thesis's
    subspace of gradient, momentum and saddle-free direction."""

    adam_betas: tuple[float, float] = _option(
        (0.9, 0.999), lambda v, _: isinstance(v, tuple) and len(v) == 2 and all(0 <= _number(b) < 1 for b in v),
        "two numbers in [0, 1)")
    """β₁, β₂ of the Adam moment estimates behind the ``"adam"`` direction. Adam's defaults
    (Kingma & Ba, 2015)."""

    adam_eps: float = _option(1e-8, *_POSITIVE_FINITE)
    """ε of the Adam moment estimates. Adam's default."""

    def __post_init__(self):
        for f in fields(self):  # a Hydra ListConfig or a list arrives for a tuple
            value = getattr(self, f.name)
            if isinstance(f.default, tuple) and not isinstance(value, (str, bytes)) and hasattr(value, "__iter__"):
                object.__setattr__(self, f.name, tuple(value))
        for f in fields(self):
            if not _rule(f).valid(getattr(self, f.name), self):
                raise ValueError(f"KryBall: {f.name} must be {_rule(f).requirement}, got {getattr(self, f.name)!r}")

    @classmethod
    def of(cls, group: Mapping[str, Any]) -> Options:
        """The options held by a parameter group (``optimizer.param_groups[i]``), validated."""
        return cls(**{f.name: group[f.name] for f in fields(cls)})

    def as_dict(self) -> dict[str, Any]:
        """Name → value, as a parameter group holds them."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def beyond_thesis(self) -> list[str]:
        """The names of the options beyond the thesis that are on (not at their default)."""
        return [name for name, off in BEYOND_THESIS.items() if getattr(self, name) != off]


# Name → default of every hyperparameter (tests and tools read the defaults here).
HYPERPARAMETERS = {f.name: f.default for f in fields(Options)}
# Name → off value of the options thesis Algorithm 4 does not have.
BEYOND_THESIS = {f.name: f.default for f in fields(Options) if _rule(f).beyond_thesis}
