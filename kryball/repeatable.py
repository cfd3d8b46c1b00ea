"""One network for every evaluation of a step: the same random streams, running statistics advanced once
(docs/usage.md, "Dropout, augmentation and BatchNorm"; docs/design.md §3).

A step of thesis Algorithm 4 evaluates the closure several times at points near θ (line 4 at θ, line 17 at the
trial point, and with ``curvature_batch`` once more on a sub-batch), and ρ compares those evaluations: it is the
actual reduction of *one* function over the reduction its model predicted. A model that draws random numbers in
its forward pass (dropout, stochastic depth, random augmentation inside the closure) would be a different function
at each call, so ρ would measure the noise between two networks rather than the step: at p = 0.1 dropout on a small
MLP the radius collapsed to 1.5e-5 with 40 % of the steps rejected. A model whose forward pass updates buffers in
training mode (BatchNorm's running mean and variance, ``num_batches_tracked``) would count one batch once per
evaluation, trial points and rejected steps included.

:class:`Repeats` makes the later evaluations of a step repeat the first:

- **Random streams** (the ``same_randomness`` option, on by default). Before the first evaluation the generators
  of the CPU and of the parameters' CUDA device are read; if the first evaluation drew from them, every later one
  starts from that same state and the generators are put back afterwards where they were, so that code between
  the evaluations (and the next step) sees the stream advance once per step, as for one forward pass. A closure
  that draws nothing costs two reads of the generator state per step (a 5 kB copy on the CPU) and nothing else;
  its run is bit-identical to one without this. A sub-batch's forward pass draws its masks from the same start,
  for fewer examples: those are not the masks of the same examples in the whole batch, which only changes the
  curvature estimate, never ρ.
- **Buffers** (``KryBall(params, model=model)``). The buffers of ``model``'s modules in training mode are copied
  after the first evaluation and copied back after every later one: they advance once per step, from the first
  evaluation at θ_t (one copy of those buffers per evaluation, and one from before the step, which an exception
  in the closure restores; BatchNorm's are two numbers per channel). Version counters cannot tell which buffers
  changed: BatchNorm's kernel updates its running statistics without bumping them. Without ``model``, KryBall
  cannot reach the buffers (an optimiser is given tensors, not modules), so a closure that runs BatchNorm in
  training mode with running statistics is refused at its first evaluation, in one line that says to pass the
  model (:class:`kryball.closure.Closure` sees the call of ``torch.nn.functional.batch_norm``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


class RandomStreams:
    """The states of the generators a step's evaluations draw from: the CPU's and, for parameters on CUDA, that
    device's."""

    def __init__(self, device: torch.device):
        self._cuda = device if device.type == "cuda" else None

    def read(self) -> tuple[torch.Tensor, ...]:
        cpu = torch.get_rng_state()
        return (cpu,) if self._cuda is None else (cpu, torch.cuda.get_rng_state(self._cuda))

    def write(self, states: tuple[torch.Tensor, ...]) -> None:
        torch.set_rng_state(states[0])
        if self._cuda is not None:
            torch.cuda.set_rng_state(states[1], self._cuda)


def _same(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


class Repeats:
    """A step's evaluations of the closure as repeats of its first (module docstring).

    Args:
        device: the parameters' device (its generator is replayed beside the CPU's).
        same_randomness: replay the random streams (the ``same_randomness`` option).
        model: the module whose buffers the closure updates, or ``None``.

    ``evaluation()`` wraps each evaluation: ``first()`` the first, ``again()`` every later one; ``undo()`` puts the
    buffers back as they were before the step.
    """

    def __init__(self, device: torch.device, same_randomness: bool = True, model: torch.nn.Module | None = None):
        self._streams = RandomStreams(device) if same_randomness else None
        self._model = model
        self._start: tuple[torch.Tensor, ...] | None = None  # the generators before the first evaluation, if it drew
        self._before: list[tuple[torch.Tensor, torch.Tensor]] = []  # (buffer, its value before the step)
        self._kept: list[tuple[torch.Tensor, torch.Tensor]] = []  # (buffer, its value after the first evaluation)
        self.started = False

    @property
    def has_model(self) -> bool:
        return self._model is not None

    def evaluation(self) -> contextlib.AbstractContextManager[None]:
        """The context of the step's next evaluation: :meth:`first` for the first, :meth:`again` after it."""
        return self.again() if self.started else self.first()

    @contextlib.contextmanager
    def first(self) -> Iterator[None]:
        """The first evaluation of the step: what it draws and what it changes is what the later ones repeat."""
        self.started = True
        before = self._streams.read() if self._streams is not None else None
        self._before = [(b, b.clone()) for b in self._training_buffers()]
        yield
        if before is not None and not _same(before, self._streams.read()):
            self._start = before
        self._kept = [(b, b.clone()) for b, _ in self._before]

    @contextlib.contextmanager
    def again(self) -> Iterator[None]:
        """A later evaluation: from the first one's random state, its buffer updates undone afterwards."""
        now = None
        if self._start is not None:
            now = self._streams.read()
            self._streams.write(self._start)
        try:
            yield
        finally:
            if now is not None:
                self._streams.write(now)
            # Through .data, which leaves the buffer's version alone: the evaluation's graph saved BatchNorm's running
            # statistics (its backward takes them, and in training mode does not use them), and a version bump
            # would make autograd refuse that graph.
            for buffer, after_first in self._kept:
                buffer.data.copy_(after_first)

    def undo(self) -> None:
        """The buffers as they were before the step: an exception interrupted it (:class:`kryball.KryBall`)."""
        for buffer, before in self._before:
            buffer.data.copy_(before)

    def _training_buffers(self) -> list[torch.Tensor]:
        """The buffers of the model's modules in training mode: those a forward pass may update (a module in eval
        mode uses its running statistics and leaves them alone)."""
        if self._model is None:
            return []
        return [b for m in self._model.modules() if m.training for b in m._buffers.values() if b is not None]
