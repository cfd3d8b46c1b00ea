"""What KryBall keeps between steps, and what it reports about one (thesis Algorithm 4's variables; docs/design.md §2).

:class:`FlatState` is the state of the flat vector θ of all trainable parameters: the
trust-region radius Δ and momentum z of Algorithm 4 (lines 1–2), the Krylov basis Q and
its T = QᵀHQ kept between refreshes (lines 5–12), the counts, and what the options beyond
the thesis keep (Adam's moment estimates, the previous step, the sub-batch sampler). It is
typed in memory and written to ``state_dict()`` as plain tensors, numbers and lists (one
format, :meth:`FlatState.as_dict`), which ``torch.load(weights_only=True)`` reads back.
The state also records the trainable set and the shapes of the parameters it was built
for, so that a changed set or a state loaded into other parameters is refused by name
(:mod:`kryball.parameters`).

:class:`StepInfo` is what one step did (``opt.last_step``), its :class:`Status` how it ended.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

import torch


@dataclass
class Totals:
    """Cumulative counts since construction: steps, accepted steps, and the work they took."""

    steps: int = 0
    accepted: int = 0
    gradient_evals: int = 0
    hvps: int = 0
    loss_evals: int = 0


@dataclass
class AdamMoments:
    """Adam's moment estimates of the gradient, m and v, after ``t`` gradients (Kingma & Ba, 2015)."""

    m: torch.Tensor
    v: torch.Tensor
    t: int = 0


@dataclass
class SubBatchSampler:
    """The draws of the curvature's sub-batches: draw t depends on (seed, t) alone (:mod:`kryball.closure`)."""

    seed: int
    draws: int = 0


@dataclass
class FlatState:
    """The state of θ. Created at the first step (Algorithm 4, lines 1–2: Δ ← Δ₀, z ← 0)."""

    radius: float  # Δ
    momentum: torch.Tensor  # z
    krylov_basis: torch.Tensor  # Q of the last refresh, n×m, column-major (n×0 before the first)
    krylov_curvature: torch.Tensor  # T = QᵀHQ of the last refresh, m×m, float64
    trainable: list[int]  # the positions of the trainable tensors among all parameters
    shapes: list[list[int]]  # the shape of every parameter, in order
    step: int = 0  # steps that ran to the end (a hybrid's first-order ones included)
    since_refresh: int = 0  # trust-region steps since the last refresh
    totals: Totals = field(default_factory=Totals)
    adam: AdamMoments | None = None  # kept when an option reads Adam's direction
    previous_step: torch.Tensor | None = None  # kept when it is a search direction
    sampler: SubBatchSampler | None = None  # seeded at the first sub-batch draw
    extras: dict = field(default_factory=dict)  # what others write into optimizer.state[p] (a hook, a framework)

    @classmethod
    def start(cls, like: torch.Tensor, n: int, radius: float, trainable: list[int], shapes: list[list[int]],
              refresh: int) -> FlatState:
        """The state before the first step: due for a refresh, Δ = Δ₀, z = 0."""
        return cls(radius=radius, momentum=like.new_zeros(n), krylov_basis=like.new_zeros(n, 0),
                   krylov_curvature=torch.zeros(0, 0, dtype=torch.float64, device=like.device),
                   trainable=trainable, shapes=shapes, since_refresh=refresh)

    def as_dict(self) -> dict:
        """The ``state_dict()`` form: plain tensors, numbers and lists (no classes, for ``weights_only`` loads)."""
        saved = {**self.extras}
        saved.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)  # the tensors themselves
                      if f.name not in ("adam", "sampler", "totals", "extras") and getattr(self, f.name) is not None})
        saved["totals"] = dataclasses.asdict(self.totals)
        # A list: torch's load_state_dict casts floating-point tensors of the state to the parameters' dtype, and T is
        # float64 whatever θ's dtype.
        saved["krylov_curvature"] = self.krylov_curvature.tolist()
        if self.adam is not None:
            saved.update(adam_m=self.adam.m, adam_v=self.adam.v, adam_t=self.adam.t)
        if self.sampler is not None:
            saved.update(curvature_seed=self.sampler.seed, curvature_draws=self.sampler.draws)
        return saved

    @classmethod
    def from_dict(cls, saved: dict, like: torch.Tensor) -> FlatState:
        """The state ``as_dict`` wrote, on ``like``'s device and (for θ's vectors) dtype, in tensors of its own (a
        step updates them in place: the dict it was loaded from stays as it was)."""
        missing = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING and f.name not in saved]
        if missing:
            raise ValueError(f"not a KryBall state_dict: its state has no {', '.join(missing)}")
        adam = (AdamMoments(saved["adam_m"].clone(), saved["adam_v"].clone(), int(saved["adam_t"]))
                if "adam_m" in saved else None)
        sampler = (SubBatchSampler(int(saved["curvature_seed"]), int(saved["curvature_draws"]))
                   if "curvature_seed" in saved else None)
        extras = {key: value for key, value in saved.items() if key not in _SAVED_KEYS}
        state = cls(radius=float(saved["radius"]), momentum=saved["momentum"].clone(),
                    krylov_basis=saved["krylov_basis"].clone(),
                    krylov_curvature=torch.as_tensor(saved["krylov_curvature"], dtype=torch.float64),
                    trainable=list(saved["trainable"]), shapes=[list(s) for s in saved["shapes"]],
                    step=int(saved.get("step", 0)), since_refresh=int(saved.get("since_refresh", 0)),
                    totals=Totals(**saved.get("totals", {})), adam=adam, sampler=sampler,
                    previous_step=saved["previous_step"].clone() if "previous_step" in saved else None,
                    extras=extras)
        return state.moved(like)

    def copy(self) -> FlatState:
        """A copy that a step's changes before its last closure call leave alone: the counts and the sampler are
        copied, the tensors shared (a step replaces them, or changes them in place only after its last closure
        call: :class:`kryball.KryBall`'s exception safety)."""
        return dataclasses.replace(self, totals=dataclasses.replace(self.totals), extras=dict(self.extras),
                                   sampler=None if self.sampler is None else dataclasses.replace(self.sampler))

    # A dict's interface, as torch's code and frameworks expect of ``optimizer.state[p]`` (Lightning moves it, a
    # load_state_dict post-hook writes into it): the fields by name (those set), then whatever others wrote.

    def keys(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)
                if f.name != "extras" and getattr(self, f.name) is not None] + list(self.extras)

    def __getitem__(self, key: str):
        if key in _FIELDS and getattr(self, key) is not None:
            return getattr(self, key)
        return self.extras[key]

    def __setitem__(self, key: str, value) -> None:
        if key in _FIELDS:
            setattr(self, key, value)
        else:
            self.extras[key] = value

    def __delitem__(self, key: str) -> None:
        if key in _FIELDS:
            raise KeyError(f"{key!r} is part of KryBall's state and cannot be removed")
        del self.extras[key]

    def __contains__(self, key) -> bool:
        return key in self.keys()

    def __iter__(self):
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def get(self, key: str, default=None):
        return self[key] if key in self else default

    def items(self) -> list[tuple[str, object]]:
        return [(key, self[key]) for key in self.keys()]

    def values(self) -> list:
        return [self[key] for key in self.keys()]

    def moved(self, like: torch.Tensor) -> FlatState:
        """θ's vectors in ``like``'s dtype and on its device, T (float64) on its device: the model was moved, or a
        state is loaded onto other hardware (torch.optim's policy for floating-point state)."""
        def to(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device=like.device, dtype=like.dtype)

        adam = None if self.adam is None else AdamMoments(to(self.adam.m), to(self.adam.v), self.adam.t)
        return dataclasses.replace(self, momentum=to(self.momentum), krylov_basis=to(self.krylov_basis),
                                   krylov_curvature=self.krylov_curvature.to(device=like.device),
                                   previous_step=to(self.previous_step), adam=adam)


_FIELDS = {f.name for f in dataclasses.fields(FlatState)} - {"extras"}
# The keys FlatState.as_dict writes for its own fields; any other key of a saved state is an extra.
_SAVED_KEYS = _FIELDS | {"adam_m", "adam_v", "adam_t", "curvature_seed", "curvature_draws"}


class Status(str, enum.Enum):
    """How a step ended. A ``str`` enum, so ``info.status == "accepted"`` holds and it prints as its value."""

    ACCEPTED = "accepted"  # ρ > η: θ moved to the trial point (thesis Algorithm 4, line 18)
    REJECTED = "rejected"  # ρ ≤ η: θ stayed, the radius shrank
    STATIONARY = "stationary"  # the model predicts no decrease the loss's precision could show: no trial made
    NON_FINITE_LOSS = "non-finite loss"  # at the current point; nothing was changed
    NON_FINITE_GRADIENT = "non-finite gradient"  # at the current point; nothing was changed
    NON_FINITE_CURVATURE = "non-finite curvature"  # a Hessian-vector product was not finite; nothing was changed

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class StepInfo:
    """What one ``KryBall.step`` did (``opt.last_step``).

    ``status`` is a :class:`Status`; ``loss`` the loss at the point the step started
    from; ``trial_loss``, ``rho``, ``predicted_reduction``, ``actual_reduction`` and
    ``multiplier`` (the subproblem's λ) describe the last trial point, if one was
    tried. ``radius`` is the radius after the update; ``step_norm`` the length of the
    last step tried. ``ritz_values`` are the
    eigenvalues of the Lanczos matrix T on refresh steps (ascending), else ``None``.
    ``krylov_dim`` is the size of the Krylov basis a refresh built (its M, adaptive with
    ``krylov_tol``; 0 between refreshes). ``retries`` counts re-solves after a rejection,
    ``hvps`` and ``loss_evals`` the step's Hessian-vector products and loss evaluations.
    """

    status: Status
    loss: float
    trial_loss: float | None = None
    rho: float | None = None
    radius: float | None = None
    accepted: bool = False
    predicted_reduction: float | None = None
    actual_reduction: float | None = None
    step_norm: float = 0.0
    multiplier: float | None = None
    ritz_values: tuple[float, ...] | None = None
    refreshed: bool = False
    krylov_dim: int = 0
    subspace_dim: int = 0
    retries: int = 0
    hvps: int = 0
    loss_evals: int = 1
