"""The parameters KryBall steps: which tensors form θ, their flat view, and groups without a learning rate
(thesis §5.1.1; docs/design.md §2–3).

All trainable tensors (``requires_grad``) of all parameter groups form one flat vector θ, so
they must be dense, real floating-point tensors of one dtype on one real device, and each
tensor may appear only once (given twice, its step would be modelled twice and applied once).
KryBall's state — radius, momentum, Krylov basis, counts — belongs to θ, that is to the set
of trainable tensors it was created for; the set is recorded as positions in
:func:`all_params` (which survive ``state_dict()``), with the shapes of all tensors, so that a
change, or a state loaded into other parameters, can be named. Every message names a tensor
by its position, "parameter i of group g", with the name a ``named_parameters()`` group gives
it and its shape.

KryBall's step length is the trust-region radius Δ, which ρ adapts every step (thesis
Algorithm 4, lines 15–19), so there is no learning rate to set or schedule.
``torch.optim.lr_scheduler`` reads and writes ``param_groups[i]["lr"]``; on a plain dict that
fails with ``KeyError: 'lr'``, which does not say why. :class:`ParamGroup` raises
:class:`NoLearningRateError` (a ``KeyError``, so code that catches one still does) with the
reason instead. ``"lr" in group`` and ``group.get("lr")`` keep their plain answers (False,
None) for code that asks first.
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


# θ as one flat vector (thesis §5.1.1 exposes θ, g, z as vectors).

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


# Parameter groups without a learning rate.

MESSAGE = ("KryBall has no learning rate: its step length is the trust-region radius, which it adapts every step "
           "from how well the model predicted the loss, so there is nothing for a learning-rate scheduler to schedule "
           "(see the README, 'Use KryBall in your own loop')")


class NoLearningRateError(KeyError):
    """Asked for (or told to set) a learning rate KryBall does not have."""

    def __str__(self) -> str:  # a KeyError would print the repr of its argument, in quotes
        return str(self.args[0])


class ParamGroup(dict):
    """A parameter group whose ``"lr"`` is refused with :data:`MESSAGE`."""

    def __missing__(self, key):
        if key == "lr":
            raise NoLearningRateError(MESSAGE)
        raise KeyError(key)

    def __setitem__(self, key, value):
        if key == "lr":  # CyclicLR and OneCycleLR set it before they read it
            raise NoLearningRateError(MESSAGE)
        super().__setitem__(key, value)

    def setdefault(self, key, default=None):
        if key == "lr" and key not in self:
            raise NoLearningRateError(MESSAGE)
        return super().setdefault(key, default)
