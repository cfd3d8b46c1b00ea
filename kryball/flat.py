"""All trainable tensors as one flat vector θ (thesis §5.1.1 exposes θ, g, z as vectors)."""

import torch


def flat_parts(tensors) -> list[torch.Tensor]:
    """Each tensor as a flat dense vector. Sparse ones (the gradient of ``nn.Embedding(sparse=True)``,
    and its products with the Hessian) are made dense: θ is dense, and ``to_dense`` is
    differentiable, so Hessian-vector products go through it."""
    return [(t.to_dense() if t.layout != torch.strided else t).reshape(-1) for t in tensors]


def flatten(tensors) -> torch.Tensor:
    """Concatenate tensors into one flat vector (a copy), sparse ones made dense (:func:`flat_parts`)."""
    return torch.cat(flat_parts(tensors))


@torch.no_grad()
def assign(params: list[torch.Tensor], flat: torch.Tensor) -> None:
    """Copy a flat vector into the parameters, in place (exactly: no arithmetic)."""
    offset = 0
    for p in params:
        p.copy_(flat[offset: offset + p.numel()].view_as(p))
        offset += p.numel()
