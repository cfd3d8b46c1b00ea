"""Curvature products that share one graph per step: the Hessian's (thesis §2.4.1; docs/design.md) and, for a
loss given by a network's outputs (:mod:`kryball.losses`), the generalised Gauss–Newton matrix's (option
``curvature="gauss_newton"``, beyond the thesis; with ``curvature="auto"`` the loss chooses: :func:`products_for`).

Double backward: ``g = ∂L/∂θ`` is computed once with ``create_graph=True``; each
product ``Hv = ∂(gᵀv)/∂θ`` then differentiates that graph again with the graph
retained, so a step with k products costs one gradient plus k backward passes
(Pearlmutter 1994). Several products can be taken in one vectorised backward
(``is_grads_batched``), which pays on a GPU; on a CPU a plain loop was faster in
our measurements (docs/performance.md). Models whose backward formulas do not
batch fall back to the loop, once, and remember it.
"""

import contextlib
from collections.abc import Iterator

import torch

from .losses import Outputs, Residuals
from .parameters import flat_parts, flatten


class CurvatureProducts:
    """What both kinds of curvature product share: ``gradient`` (flat, detached), ``matvec(v)`` and ``matmat(V)``
    (V is n×k), ``count`` (the products taken), ``batched`` (several products in one vectorised backward; it turns
    False when that fails, so pass it on to the next step's instance and the failure is paid once), and
    ``takes_residuals`` (whether the products are built from a least-squares loss's residuals rather than the loss).
    A subclass gives the products of a block of row vectors (:meth:`_products`) and whether they can be nonzero."""

    takes_residuals = False

    def __init__(self, batched: bool):
        self.count = 0
        self.batched = batched

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """The product with a flat vector ``v``."""
        return self.matmat(v[:, None])[:, 0]

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        """The products with the columns of ``V`` (n×k), batched where the model allows it; column-major, like the
        bases (:mod:`kryball.subspace`)."""
        k = V.shape[1]
        self.count += k
        if k == 0 or not self._depends_on_params():  # the curvature is zero
            return torch.zeros_like(V.T).T
        rows = V.T.contiguous()  # a strided grad_output made each backward ~1.6× slower on CPU; free when column-major
        if k > 1 and self.batched:
            try:
                return self._products(rows, batched=True).T
            except RuntimeError:
                self.batched = False  # e.g. a backward formula without a batching rule
        products = torch.empty_like(rows)
        for row, product in zip(rows, products):
            self._products(row, batched=False, out=product)
        return products.T

    def _depends_on_params(self) -> bool:
        raise NotImplementedError

    def _products(self, vectors: torch.Tensor, batched: bool, out: torch.Tensor | None = None) -> torch.Tensor:
        """The products with ``vectors``: one row each when ``batched``, else one flat vector (into ``out``)."""
        raise NotImplementedError


class HessianVectorProducts(CurvatureProducts):
    """The gradient at one point and products with the Hessian there (:class:`CurvatureProducts`).

    Args:
        loss: a scalar connected to ``params`` by an autograd graph.
        params: the tensors differentiated; a parameter the loss does not depend on
            has zero gradient and zero curvature.
        gradient: the flat gradient to report instead of ∇loss — curvature on a
            sub-batch (:mod:`kryball.closure`): ``loss`` is then the sub-batch's, whose
            Hessian the products take, and ``gradient`` the whole batch's.
    """

    def __init__(self, loss: torch.Tensor, params: list[torch.Tensor], *, batched: bool = True,
                 gradient: torch.Tensor | None = None):
        super().__init__(batched)
        require_graph(loss)
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True, materialize_grads=True)
        self._params = params
        self._gradient = flatten(grads)
        self.gradient = self._gradient.detach() if gradient is None else gradient

    def _depends_on_params(self) -> bool:
        return self._gradient.requires_grad  # else the gradient is constant in θ: H = 0

    def _products(self, vectors: torch.Tensor, batched: bool, out: torch.Tensor | None = None) -> torch.Tensor:
        products = torch.autograd.grad(
            self._gradient,
            self._params,
            grad_outputs=vectors,
            retain_graph=True,
            allow_unused=True,
            materialize_grads=True,
            is_grads_batched=batched,
        )
        if batched:
            return torch.cat([p.reshape(vectors.shape[0], -1) for p in products], dim=1)
        return torch.cat(flat_parts(products), out=out)  # flattened into its row of the result


class GaussNewtonProducts(CurvatureProducts):
    """The gradient of a loss given by a network's outputs and products with its generalised Gauss–Newton matrix
    (:class:`CurvatureProducts`; :mod:`kryball.losses`).

    The loss is ``L = mean_i ℓ(f_i, t_i)``, convex in the outputs f, so its gradient is ``Jᵀ ∇_f L`` and its
    generalised Gauss–Newton matrix ``G = Jᵀ (∇²_f L) J``, J = ∂f/∂θ (Schraudolph 2002): the Hessian without the
    network's own curvature, positive semi-definite — the curvature of Krylov Subspace Descent (Vinyals & Povey
    2012), Hessian-free optimisation (Martens 2010) and CurveBall (Henriques et al. 2019), and the natural one of
    least squares such as a physics-informed loss (``Residuals``: G = (2/N) JᵀJ). ``Jv`` comes from the
    double-backward trick: ``w(u) = Jᵀu`` is built once with a graph, linear in a dummy u, and ``Jv = ∂(w·v)/∂u``;
    then ``Gv = Jᵀ((∇²_f L) Jv)`` is one more backward through f's graph, ``(∇²_f L)`` in closed form
    (:meth:`kryball.losses.Outputs.hessian_times`). A product costs two backward passes and is counted as one
    curvature product (``count``). With G, the saddle-free treatment changes nothing (|λ| = λ) but the floor
    ``eig_clip``.

    Args:
        outputs: :class:`kryball.Residuals` or :class:`kryball.Outputs` with their graph (a tensor: its residuals).
        params, batched, gradient: as for :class:`HessianVectorProducts`.
    """

    takes_residuals = True

    def __init__(self, outputs: Residuals | Outputs | torch.Tensor, params: list[torch.Tensor], *,
                 batched: bool = True, gradient: torch.Tensor | None = None):
        super().__init__(batched)
        self._loss = Residuals(outputs) if isinstance(outputs, torch.Tensor) else outputs
        values = self._loss.values
        require_graph(values)
        self._values, self._params = values, params
        self._dual = torch.zeros_like(values, requires_grad=True)
        self._transposed = flatten(torch.autograd.grad(values, params, grad_outputs=self._dual, create_graph=True,
                                                       allow_unused=True, materialize_grads=True))  # Jᵀu
        own = self._transpose_times(self._loss.loss_gradient(), batched=False)
        self.gradient = own if gradient is None else gradient

    def _depends_on_params(self) -> bool:
        return self._transposed.requires_grad  # else the outputs are constant in θ: J = 0

    def _products(self, vectors: torch.Tensor, batched: bool, out: torch.Tensor | None = None) -> torch.Tensor:
        (jacobian_times,) = torch.autograd.grad(self._transposed, self._dual, grad_outputs=vectors, retain_graph=True,
                                                is_grads_batched=batched)  # Jv, one row per vector when batched
        return self._transpose_times(self._loss.hessian_times(jacobian_times), batched, out)

    def _transpose_times(self, outputs: torch.Tensor, batched: bool, out: torch.Tensor | None = None) -> torch.Tensor:
        """``Jᵀ outputs`` (flat, into ``out``; one row per batched output) through the outputs' graph, which is
        kept."""
        parts = torch.autograd.grad(self._values, self._params, grad_outputs=outputs, retain_graph=True,
                                    allow_unused=True, materialize_grads=True, is_grads_batched=batched)
        if batched:
            return torch.cat([p.reshape(outputs.shape[0], -1) for p in parts], dim=1)
        return torch.cat(flat_parts(parts), out=out)


# What AOTAutograd (behind torch.compile's default backends, inductor and aot_eager) says when its backward is
# differentiated, or asked to keep its graph (its donated buffers are freed by the first backward).
_COMPILED = ("torch.compile with aot_autograd does not currently support double backward",
             "compiled with non-empty donated buffers")
COMPILED_MODEL = ("KryBall: the closure runs a torch.compile'd model, whose backward torch.compile cannot "
                  "differentiate again, and every KryBall step takes Hessian-vector products (a double backward): "
                  "call the model uncompiled inside the closure, or compile it with torch.compile(model, "
                  "backend='eager'), Dynamo's graph capture without AOTAutograd (docs/usage.md)")


@contextlib.contextmanager
def explained_double_backward() -> Iterator[None]:
    """AOTAutograd's refusal of a double backward (or of a backward that keeps its graph) — from the closure's own
    backward, the gradient with its graph or the first product — becomes one line that says what works. Entered once,
    around a whole step (:meth:`kryball.KryBall.step`), which leaves the parameters as they were."""
    try:
        yield
    except RuntimeError as error:
        if any(said in str(error) for said in _COMPILED):
            raise RuntimeError(COMPILED_MODEL) from None
        raise


def require_graph(loss: torch.Tensor) -> None:
    """Refuse, in one line, a loss autograd cannot differentiate (instead of "element 0 of tensors does not require
    grad")."""
    if not loss.requires_grad:
        what = "a constant or a detached tensor" if loss.is_floating_point() else f"an integer tensor ({loss.dtype})"
        raise ValueError(f"the loss is not connected to the parameters by an autograd graph (it is {what}): compute "
                         "it from the parameters with gradient tracking on and return that tensor, not a copy made "
                         "with .detach(), .item(), torch.tensor(...) or an integer cast")


def gradient(loss: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """The flat gradient alone (the whole batch's, beside a sub-batch's curvature): no graph is kept for
    Hessian-vector products."""
    require_graph(loss)
    return flatten(torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True))


# The curvature products by the name the ``curvature`` option gives them (kryball/options.py).
CURVATURES = {"hessian": HessianVectorProducts, "gauss_newton": GaussNewtonProducts}
# The ``curvature`` option's other value: the Gauss–Newton matrix where the closure gives residuals, else the Hessian.
AUTO = "auto"


def products_for(curvature: str, residuals_given: bool) -> type[CurvatureProducts]:
    """The products the ``curvature`` option names; for ``"auto"`` those of the loss the closure gave: the
    Gauss–Newton matrix's for :class:`kryball.Residuals` (a least-squares loss, where it is the natural curvature and
    won the self-tuning track's least-squares workloads: docs/performance.md) or :class:`kryball.Outputs`, the
    Hessian's for a loss. (``residuals_given``: the closure gave either.)"""
    if curvature == AUTO:
        return GaussNewtonProducts if residuals_given else HessianVectorProducts
    return CURVATURES[curvature]
