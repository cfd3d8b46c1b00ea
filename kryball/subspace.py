"""The search subspace of one step and the curvature along it (thesis Algorithm 4, lines 5–14; §4.2.2).

Refresh steps build the Krylov basis Q of 𝒦_M(H, g) by Lanczos (§4.2.1) and the
saddle-free direction d in span(Q) (eqs 4.7–4.12), and search span{g, z, d}; the other
steps search span{g, z, Q} with the last refresh's Q. Options beyond the thesis add
named ``directions`` to both (:data:`EXTRA_DIRECTIONS`: Adam's direction, §6.2.5, and the
previous step), and ``reuse_curvature`` keeps the last Lanczos T as QᵀHQ between refreshes.

Most directions lie in span(Q) of a Krylov basis whose curvature QᵀHQ is often already
known (the Lanczos matrix T on refresh steps), so the subspace is built in two layers:

* an orthonormal *extended basis* ``E = [Q | R]`` of n-vectors, where R spans the parts of
  the extra directions outside span(Q) — only R needs fresh Hessian-vector products when
  QᵀHQ is known (docs/design.md);
* the search directions as float64 *coordinates* C in E, orthonormalised in that small
  space, so the projected problem ``A = CᵀKC``, ``b = CᵀEᵀg`` (eqs 4.14–4.15) costs no more
  n-vector work.

Adam's moment estimates (Kingma & Ba, 2015: ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
bias-corrected m̂ and v̂) live here too: they give the ``"adam"`` direction m̂/(√v̂ + ε).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple

import torch

from .curvature import CurvatureProducts
from .krylov import dependence_tolerance, lanczos, orthogonalise
from .saddle_free import sfn_direction
from .state import AdamMoments, FlatState
from .trust_region import QuadraticModel, predicted_reduction, solve_subproblem

if TYPE_CHECKING:
    from .options import Options


# Adam's moment estimates and direction.

def update_moments(state: FlatState, g: torch.Tensor, betas: tuple[float, float]) -> None:
    """Fold the gradient ``g`` into the first and second moment estimates of ``state``: new tensors, so that the
    moments before the step stay intact for a step that an exception interrupts (:class:`kryball.KryBall`)."""
    old = state.adam if state.adam is not None else AdamMoments(torch.zeros_like(g), torch.zeros_like(g))
    beta1, beta2 = betas
    state.adam = AdamMoments(old.m.mul(beta1).add_(g, alpha=1 - beta1),
                             old.v.mul(beta2).addcmul_(g, g, value=1 - beta2), old.t + 1)


def adam_direction(moments: AdamMoments, betas: tuple[float, float], eps: float) -> torch.Tensor:
    """``m̂/(√v̂ + ε)``: Adam's (ascent) direction; its step is ``−lr`` times it."""
    denominator = (moments.v / (1 - betas[1] ** moments.t)).sqrt_().add_(eps)
    return moments.m / (1 - betas[0] ** moments.t) / denominator


def needs_moments(options: Options) -> bool:
    """Whether an option reads Adam's moment estimates (they are kept only then)."""
    return "adam" in options.directions


# Named directions, each a function of the step's gradient, the state (this step's gradient folded into Adam's
# moments) and the options. ``directions`` adds search directions, one Hessian-vector product each (adding one is an
# entry here).
EXTRA_DIRECTIONS = {
    "adam": lambda g, state, options: adam_direction(state.adam, options.adam_betas, options.adam_eps),
    "previous_step": lambda g, state, options: state.previous_step,
}


# The two layers of the subspace.

def orthonormal_complement(Q: torch.Tensor, vectors: list[torch.Tensor]) -> torch.Tensor:
    """Orthonormal columns R spanning the parts of ``vectors`` outside span(Q); a vector whose residual is below
    :func:`~kryball.krylov.dependence_tolerance` of its own norm adds no column (it is numerically inside the span
    already, e.g. the gradient on a refresh step)."""
    tol = dependence_tolerance(Q.dtype)
    rows = torch.empty(Q.shape[1] + len(vectors), Q.shape[0], dtype=Q.dtype, device=Q.device)
    rows[:Q.shape[1]] = Q.T
    m = Q.shape[1]
    for v in vectors:
        norm = v.norm()
        if norm == 0:
            continue
        r = orthogonalise(rows[:m], v)
        r_norm = r.norm()
        if r_norm > tol * norm:
            torch.div(r, r_norm, out=rows[m])
            m += 1
    return rows[Q.shape[1]:m].T


def orthonormal_coordinates(C: torch.Tensor, tol: float) -> torch.Tensor:
    """Orthonormalise the columns of a small float64 matrix in the order given, so the first direction (the gradient)
    is never the one dropped; a column whose residual is below ``tol`` times its norm (or is zero) is dropped. Small
    enough to run on the host."""
    columns = C.detach().to("cpu", torch.float64).T
    rows = torch.zeros_like(columns)
    m = 0
    for column in columns:
        norm = column.norm()
        r = orthogonalise(rows[:m], column)
        r_norm = r.norm()
        if norm > 0 and r_norm > tol * norm:
            rows[m] = r / r_norm
            m += 1
    return rows[:m].T.to(C.device)


class ExtendedBasis(NamedTuple):
    """``basis`` E = [Q | R] (n×e, orthonormal) and ``curvature`` K = EᵀHE (e×e, float64)."""

    basis: torch.Tensor
    curvature: torch.Tensor


def extend_basis(hvp: CurvatureProducts, Q: torch.Tensor, QHQ: torch.Tensor | None,
                 vectors: list[torch.Tensor]) -> ExtendedBasis:
    """Extend Q by the parts of ``vectors`` outside span(Q) and project H onto the result.

    With ``QHQ`` known (refresh steps: the Lanczos matrix T), only the new columns R cost Hessian-vector products;
    otherwise (a stale Q at a new point) all of ``[Q | R]`` is multiplied, in one batched call.
    """
    R = orthonormal_complement(Q, vectors)
    E = torch.cat([Q.T, R.T]).T  # column-major, as Lanczos builds Q
    # Products in the working dtype (as accurate as the vectors themselves), small results in float64.
    if QHQ is None:
        K = (E.T @ hvp.matmat(E)).double()
    else:
        HR = hvp.matmat(R)
        cross = (Q.T @ HR).double()
        K = torch.cat([
            torch.cat([QHQ.to(torch.float64), cross], dim=1),
            torch.cat([cross.T, (R.T @ HR).double()], dim=1),
        ], dim=0)
    return ExtendedBasis(E, (K + K.T) / 2)


# One step's subspace.

class SearchSubspace(NamedTuple):
    """One step's search directions E C (E n×e orthonormal, C e×k orthonormal, float64) and what a refresh built."""

    basis: torch.Tensor  # E
    curvature: torch.Tensor  # K = EᵀHE
    gradient: torch.Tensor  # Eᵀg
    coordinates: torch.Tensor  # C
    ritz_values: torch.Tensor | None  # eigenvalues of T, on refresh steps
    krylov: tuple[torch.Tensor, torch.Tensor] | None  # the new (Q, T), on refresh steps
    sfn_direction: torch.Tensor | None  # Q y, the saddle-free direction, on refresh steps

    def model(self) -> QuadraticModel:
        """The trust-region subproblem's quadratic: A = CᵀKC, b = CᵀEᵀg (thesis eqs 4.14–4.15)."""
        C = self.coordinates
        return QuadraticModel(C.T @ self.curvature @ C, C.T @ self.gradient, self.basis, C)


def search_subspace(g: torch.Tensor, hvp: CurvatureProducts, state: FlatState, options: Options,
                    refreshed: bool) -> SearchSubspace | None:
    """The search subspace at the gradient ``g`` with curvature from ``hvp``, on a refresh step or between
    refreshes; ``None`` when a Hessian-vector product was not finite."""
    extras = [EXTRA_DIRECTIONS[name](g, state, options) for name in options.directions]
    build = _with_new_krylov_basis if refreshed else _with_last_krylov_basis
    subspace = build(g, state.momentum, extras, hvp, state, options)
    if subspace is None or not torch.isfinite(subspace.curvature).all():
        return None
    return subspace


def until_the_model_settles(g_norm: float, radius: float, tol: float) -> Callable[[torch.Tensor], bool]:
    """The ``krylov_tol`` rule: whether the Krylov basis should grow, asked with its T after each Lanczos step.

    The trust-region model of thesis eq. 4.14 within span(Q_j), m(y) = ‖g‖y₁ + ½yᵀT_j y over ‖y‖ ≤ Δ, predicts
    a decrease D_j that can only grow with j (the spaces are nested), and stops growing once the space holds the
    curvature that matters at this radius: the basis grows while D_j − D_{j−1} > tol·D_j. On a well-conditioned
    or noisy problem that is after a few vectors; on an ill-conditioned one the basis keeps growing towards
    ``krylov_dim`` (the cap). Each test is a j×j eigendecomposition, no Hessian-vector product.
    """
    before = [0.0]

    def keeps_growing(T: torch.Tensor) -> bool:
        c = torch.zeros(T.shape[0], dtype=torch.float64)
        c[0] = g_norm
        alpha = solve_subproblem(T, c, radius).step
        decrease = predicted_reduction(T, c, alpha)
        grew = decrease - before[0] > tol * decrease
        before[0] = decrease
        return grew

    return keeps_growing


def _with_new_krylov_basis(g, z, extras, hvp, state, options) -> SearchSubspace | None:
    """Lines 5–7 and 10: a new Krylov basis Q and saddle-free direction d = Qy; the directions {g, z, d, extras}."""
    grows = None if options.krylov_tol is None else until_the_model_settles(g.norm().item(), state.radius,
                                                                            options.krylov_tol)
    Q, T = lanczos(hvp.matvec, g, options.krylov_dim, keeps_growing=grows)
    if not torch.isfinite(T).all():
        return None
    y, ritz_values = sfn_direction(T, (Q.T @ g).double(), options.eig_clip)
    # g = ‖g‖q₁ lies in span(Q) of 𝒦(H, g): only z and the extras can add directions.
    E, K = extend_basis(hvp, Q, T, [z, *extras])
    Eg = (E.T @ g).double()
    d = torch.cat([y, y.new_zeros(E.shape[1] - Q.shape[1])])
    directions = torch.stack([Eg, (E.T @ z).double(), d, *((E.T @ v).double() for v in extras)], dim=1)
    C = orthonormal_coordinates(directions, dependence_tolerance(E.dtype))
    return SearchSubspace(E, K, Eg, C, ritz_values, (Q, T), Q @ y.to(Q.dtype))


def _with_last_krylov_basis(g, z, extras, hvp, state, options) -> SearchSubspace:
    """Line 12: the directions {g, z, columns of the last Q, extras}, which span all of E. ``reuse_curvature`` (beyond
    the thesis): the last refresh's T stands in for QᵀHQ at the new point."""
    Q = state.krylov_basis
    E, K = extend_basis(hvp, Q, state.krylov_curvature if options.reuse_curvature else None, [g, z, *extras])
    Eg = (E.T @ g).double()
    C = torch.eye(E.shape[1], dtype=torch.float64, device=E.device)
    return SearchSubspace(E, K, Eg, C, None, None, None)
