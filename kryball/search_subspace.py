"""The search subspace of one step and the curvature along it (thesis Algorithm 4, lines 5–14).

Refresh steps build the Krylov basis Q of 𝒦_M(H, g) by Lanczos (§4.2.1) and the
saddle-free direction d in span(Q) (eqs 4.7–4.12), and search span{g, z, d}; the
other steps search span{g, z, Q} with the last refresh's Q. The options beyond the
thesis enter as the pieces they are: extra ``directions`` join both sets
(:mod:`kryball.extra_directions`), a ``preconditioner`` changes the Krylov space
(:mod:`kryball.preconditioning`), and ``reuse_curvature`` keeps the last Lanczos T as
QᵀHQ between refreshes. The subspace is built in the two layers of
:mod:`kryball.subspace`: an orthonormal extended basis E with K = EᵀHE, and the
search directions as orthonormal float64 coordinates C in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch

from .extra_directions import extra_directions
from .hvp import HessianVectorProducts
from .krylov import dependence_tolerance
from .preconditioning import krylov_direction, krylov_scale
from .subspace import extend_basis, orthonormal_coordinates
from .trust_region_loop import QuadraticModel

if TYPE_CHECKING:
    from .options import Options


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


def search_subspace(g: torch.Tensor, hvp: HessianVectorProducts, state: dict, options: Options,
                    refreshed: bool) -> SearchSubspace | None:
    """The search subspace at the gradient ``g`` with curvature from ``hvp``, on a refresh step or between
    refreshes; ``None`` when a Hessian-vector product was not finite."""
    z, extras = state["momentum"], extra_directions(state, options)
    build = _with_new_krylov_basis if refreshed else _with_last_krylov_basis
    subspace = build(g, z, extras, hvp, state, options)
    if subspace is None or not torch.isfinite(subspace.curvature).all():
        return None
    return subspace


def keep_krylov_basis(state: dict, subspace: SearchSubspace) -> None:
    """Keep a refresh's Q and T for the steps until the next refresh."""
    Q, T = subspace.krylov
    state.update(krylov_basis=Q, krylov_curvature=T.tolist())  # a list: load_state_dict would cast a tensor


def _with_new_krylov_basis(g, z, extras, hvp, state, options) -> SearchSubspace | None:
    """Lines 5–7 and 10: a new Krylov basis Q and saddle-free direction d; the directions {g, z, d, extras}."""
    scale = krylov_scale(state, options)
    krylov = krylov_direction(hvp.matvec, g, options.krylov_dim, options.eig_clip, scale)
    Q, T = krylov.basis, krylov.curvature
    if not torch.isfinite(T).all():
        return None
    # g = ‖g‖q₁ lies in span(Q) of 𝒦(H, g): then only z and the extras can add directions.
    E, K = extend_basis(hvp, Q, T, [*([g] if scale is not None else []), z, *extras])
    Eg = (E.T @ g).double()
    d = torch.cat([krylov.coordinates, krylov.coordinates.new_zeros(E.shape[1] - Q.shape[1])])
    directions = torch.stack([Eg, (E.T @ z).double(), d, *((E.T @ v).double() for v in extras)], dim=1)
    C = orthonormal_coordinates(directions, dependence_tolerance(E.dtype))
    return SearchSubspace(E, K, Eg, C, krylov.ritz_values, (Q, T), Q @ krylov.coordinates.to(Q.dtype))


def _with_last_krylov_basis(g, z, extras, hvp, state, options) -> SearchSubspace:
    """Line 12: the directions {g, z, columns of the last Q, extras}, which span all of E."""
    Q = state["krylov_basis"]
    E, K = extend_basis(hvp, Q, _kept_curvature(state) if options.reuse_curvature else None, [g, z, *extras])
    Eg = (E.T @ g).double()
    C = torch.eye(E.shape[1], dtype=torch.float64, device=E.device)
    return SearchSubspace(E, K, Eg, C, None, None, None)


def _kept_curvature(state: dict) -> torch.Tensor:
    """``reuse_curvature`` (beyond the thesis): the last refresh's T stands in for QᵀHQ at the new point."""
    m = state["krylov_basis"].shape[1]
    return torch.tensor(state["krylov_curvature"], dtype=torch.float64, device=state["krylov_basis"].device).reshape(m, m)
