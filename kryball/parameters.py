"""Which tensors KryBall steps, whether it can, and what it says when it cannot (thesis §5.1.1; docs/design.md §2).

All trainable tensors (``requires_grad``) of all parameter groups form one flat vector θ, so
they must be dense, real floating-point tensors of one dtype on one real device, and each
tensor may appear only once (given twice, its step would be modelled twice and applied once).
KryBall's state — radius, momentum, Krylov basis, counts — belongs to θ, that is to the set
of trainable tensors it was created for; the set is recorded as positions in
:func:`all_params` (which survive ``state_dict()``), so that a change can be named.
Every message names a tensor by its position, "parameter i of group g", with the name a
``named_parameters()`` group gives it and its shape.
"""

import torch


def all_params(param_groups) -> list[torch.Tensor]:
    """Every tensor of every group, in order: the positions ``state_dict()`` numbers them by."""
    return [p for group in param_groups for p in group["params"]]


def trainable_positions(param_groups) -> list[int]:
    return [i for i, p in enumerate(all_params(param_groups)) if p.requires_grad]


def describe(param_groups, position: int) -> str:
    """``parameter i of group g ('name', shape (…))`` for a position in :func:`all_params`."""
    for g, group in enumerate(param_groups):
        if position < len(group["params"]):
            names = group.get("param_names")
            name = f"{names[position]!r}, " if names else ""
            return f"parameter {position} of group {g} ({name}shape {tuple(group['params'][position].shape)})"
        position -= len(group["params"])
    return f"the parameter at position {position + len(all_params(param_groups))} (no longer in the optimiser)"


def shapes(param_groups) -> list[list[int]]:
    """The shape of every tensor of every group, in order: recorded in the state, so that a ``state_dict`` is loaded
    into the parameters it was saved from (lists of ints: ``torch.load(weights_only=True)`` takes them)."""
    return [list(p.shape) for p in all_params(param_groups)]


def refuse_other_parameters(param_groups, saved: list[list[int]]) -> None:
    """A state saved for parameters of other shapes, or in another order: name the first that differs."""
    now = shapes(param_groups)
    if now == saved:
        return
    for position, (was, shape) in enumerate(zip(saved, now)):
        if was != shape:
            raise ValueError(f"KryBall's state_dict is for other parameters: the tensor saved in the place of "
                             f"{describe(param_groups, position)} had shape {tuple(was)}. Load it into the "
                             "parameters it was saved from, in the same order")
    raise ValueError(f"KryBall's state_dict is for other parameters: it was saved with {len(saved)} tensors, this "
                     f"optimiser has {len(now)}. Load it into the parameters it was saved from, in the same order")


def refuse_duplicates(tensors: list, group_index: int) -> None:
    """A tensor given twice in one group (torch.optim only warns)."""
    seen = {}
    for i, tensor in enumerate(tensors):
        if id(tensor) in seen:
            raise ValueError(f"KryBall got the same tensor twice: parameter {i} of group {group_index} is parameter "
                             f"{seen[id(tensor)]} of group {group_index} again; pass each tensor once "
                             "(model.parameters() does)")
        seen[id(tensor)] = i


def check_steppable(param_groups, positions: list[int]) -> None:
    """Refuse, naming the tensor, what cannot be part of θ: sparse, complex or meta tensors, mixed dtypes or
    devices."""
    tensors = all_params(param_groups)
    first = positions[0]
    for position in positions:
        p = tensors[position]
        what = describe(param_groups, position)
        if p.layout != torch.strided:
            raise ValueError(f"KryBall needs dense parameters: {what} is {p.layout}")
        if not p.is_floating_point():
            raise ValueError(f"KryBall needs real floating-point parameters: {what} is {p.dtype}")
        if p.device.type == "meta":
            raise ValueError(f"KryBall cannot step {what}: it is on the meta device, which holds no values; "
                             "materialise the model on a real device first (e.g. module.to_empty(device=...) and "
                             "initialise it)")
        if p.dtype != tensors[first].dtype or p.device != tensors[first].device:
            raise ValueError(f"KryBall treats all trainable parameters as one vector, so they need one dtype and "
                             f"device: {what} is {p.dtype} on {p.device}, {describe(param_groups, first)} is "
                             f"{tensors[first].dtype} on {tensors[first].device}")


def refuse_changed_set(param_groups, recorded: list[int], now: list[int]) -> None:
    """The trainable set differs from the one the state was created for: say which tensors changed and what to do."""
    if recorded == now:
        return
    frozen = [f"{describe(param_groups, i)} was frozen" for i in recorded if i not in now]
    unfrozen = [f"{describe(param_groups, i)} was unfrozen" for i in now if i not in recorded]
    raise ValueError(
        "KryBall's state (trust-region radius, momentum, Krylov basis) is for the trainable parameters it was created "
        f"for, and they changed: {'; '.join(frozen + unfrozen)}. Restore requires_grad, or build a new KryBall "
        "for the new set (freezing parameters before the first step is fine)")
