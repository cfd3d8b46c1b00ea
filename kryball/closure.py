"""Evaluating a user's closure the way KryBall needs it.

KryBall differentiates the loss itself (twice: gradient, then Hessian-vector
products), so its closure only has to return the loss. The standard PyTorch
closure (``zero_grad(); loss = f(); loss.backward(); return loss``) must still
work: its ``backward()`` would free the graph KryBall is about to differentiate.
While KryBall calls a closure, ``Tensor.backward`` is therefore swapped for a
version that keeps the graph (first evaluation: the closure's gradient is still
computed and lands in ``.grad``, which costs one extra backward) or does nothing
(gradient-free trial evaluations under ``torch.no_grad``, where there is no graph).
"""

import contextlib
from typing import Callable

import torch

_original_backward = torch.Tensor.backward


@contextlib.contextmanager
def _tensor_backward(replacement):
    torch.Tensor.backward = replacement
    try:
        yield
    finally:
        torch.Tensor.backward = _original_backward


def _retaining_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    _original_backward(self, gradient, retain_graph=True, create_graph=create_graph, inputs=inputs)


def _skipped_backward(self, *args, **kwargs):
    pass


def _checked(loss) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise TypeError(f"the closure must return the loss as a scalar tensor, got {type(loss).__name__}"
                        + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""))
    return loss.reshape(())


def loss_with_graph(closure: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Evaluate the closure with gradient tracking; a ``backward()`` inside keeps the graph."""
    with torch.enable_grad(), _tensor_backward(_retaining_backward):
        return _checked(closure())


def loss_without_graph(closure: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Evaluate the closure under ``torch.no_grad``; a ``backward()`` inside is skipped."""
    with torch.no_grad(), _tensor_backward(_skipped_backward):
        return _checked(closure()).detach()
