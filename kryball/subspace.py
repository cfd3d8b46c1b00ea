"""The linear algebra of the search subspace and the Hessian projected onto it (thesis §4.2.2).

:mod:`kryball.search_subspace` puts these pieces together for one step. KryBall's subspace is spanned by a few directions — gradient, momentum and the
saddle-free direction, or gradient, momentum and the last Krylov basis (thesis
Algorithm 4, lines 8–12). Most of them lie in span(Q) of a Krylov basis whose
curvature QᵀHQ is often already known (the Lanczos matrix T on refresh steps), so
the subspace is built in two layers:

* an orthonormal *extended basis* ``E = [Q | R]`` of n-vectors, where R spans the
  parts of the extra directions outside span(Q) — only R needs fresh
  Hessian-vector products when QᵀHQ is known (docs/design.md);
* the search directions as float64 *coordinates* in E, orthonormalised in that
  small space, so the projected problem ``A = ĈᵀKĈ``, ``b = ĈᵀEᵀg`` costs no more
  n-vector work.
"""

from typing import NamedTuple

import numpy as np
import torch

from .hvp import HessianVectorProducts
from .krylov import dependence_tolerance


def orthonormal_complement(Q: torch.Tensor, vectors: list[torch.Tensor]) -> torch.Tensor:
    """Orthonormal columns R spanning the parts of ``vectors`` outside span(Q).

    Classical Gram–Schmidt against ``[Q | R]``, applied twice; a vector whose residual
    is below :func:`dependence_tolerance` of its own norm adds no column (it is
    numerically inside the span already, e.g. the gradient on a refresh step).
    """
    tol = dependence_tolerance(Q.dtype)
    rows = torch.empty(Q.shape[1] + len(vectors), Q.shape[0], dtype=Q.dtype, device=Q.device)
    rows[:Q.shape[1]] = Q.T
    m = Q.shape[1]
    for v in vectors:
        norm = v.norm()
        if norm == 0:
            continue
        r = v
        basis = rows[:m]
        for _ in range(2):
            r = r - (basis @ r) @ basis
        r_norm = r.norm()
        if r_norm > tol * norm:
            torch.div(r, r_norm, out=rows[m])
            m += 1
    return rows[Q.shape[1]:m].T


def orthonormal_coordinates(C: torch.Tensor, tol: float) -> torch.Tensor:
    """Orthonormalise the columns of a small float64 matrix, dropping dependent ones.

    Modified Gram–Schmidt, twice, in the column order given, so the first direction
    (the gradient) is never the one dropped. A column whose residual is below ``tol``
    times its norm (or is zero) is dropped. Small enough to run in NumPy on the host.
    """
    kept = []
    for column in C.detach().to("cpu", torch.float64).numpy().T:
        norm = np.linalg.norm(column)
        r = column
        for _ in range(2):
            for q in kept:
                r = r - q * (q @ r)
        r_norm = np.linalg.norm(r)
        if norm > 0 and r_norm > tol * norm:
            kept.append(r / r_norm)
    basis = np.stack(kept, axis=1) if kept else np.zeros((C.shape[0], 0))
    return torch.from_numpy(basis).to(C.device)


class ExtendedBasis(NamedTuple):
    """``basis`` E = [Q | R] (n×e, orthonormal) and ``curvature`` K = EᵀHE (e×e, float64)."""

    basis: torch.Tensor
    curvature: torch.Tensor


def extend_basis(
    hvp: HessianVectorProducts,
    Q: torch.Tensor,
    QHQ: torch.Tensor | None,
    vectors: list[torch.Tensor],
) -> ExtendedBasis:
    """Extend Q by the parts of ``vectors`` outside span(Q) and project H onto the result.

    With ``QHQ`` known (refresh steps: the Lanczos matrix T), only the new columns R
    cost Hessian-vector products; otherwise (a stale Q at a new point) all of
    ``[Q | R]`` is multiplied, in one batched call.
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
