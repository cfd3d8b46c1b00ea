"""All trainable tensors as one flat vector θ (thesis §5.1.1 exposes θ, g, z as vectors)."""

import torch


def flatten(tensors) -> torch.Tensor:
    """Concatenate tensors into one flat vector (a copy)."""
    return torch.cat([t.reshape(-1) for t in tensors])


@torch.no_grad()
def assign(params: list[torch.Tensor], flat: torch.Tensor) -> None:
    """Copy a flat vector into the parameters, in place (exactly: no arithmetic)."""
    offset = 0
    for p in params:
        p.copy_(flat[offset: offset + p.numel()].view_as(p))
        offset += p.numel()
