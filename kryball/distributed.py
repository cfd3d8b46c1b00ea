"""Data-parallel KryBall on ``torch.distributed`` (docs/scaling.md; thesis §5.5.5 and §6.2.5 name the cost that
parallel hardware could share).

Each process evaluates the loss on its own shard of the batch. Thesis Algorithm 4 reads the data in three places
only — the loss and the gradient at θ (line 4), the Hessian-vector products (Lanczos, lines 5–7, and the curvature
of the search subspace, lines 13–14) and the loss at the trial point (line 17) — and there the shards' numbers are
summed across processes, each weighted by its share of the batch's examples, which is the mean over the whole
batch. Everything computed from them (the Lanczos coefficients, the saddle-free direction, the subspace, the exact
subproblem solve, ρ, acceptance, the radius, the momentum) is then computed from bit-identical numbers on every
process: an all-reduce hands every process the same sum. So the parameters never diverge, and the run is
single-process KryBall on the concatenated batch up to the order of floating-point reduction.

Why not ``DistributedDataParallel``: DDP averages ``.grad`` in hooks of one backward pass, copying it into buckets.
KryBall differentiates its gradient a second time (double backward, ``create_graph=True``), which DDP does not
support (the copies carry no graph), and it needs the Hessian-vector products and the loss values averaged too,
which DDP never sees. Here the gradient and the products are taken of the local graph and then summed.

Collectives per step (``DistributedKryBall.communication`` counts them): one of 3P numbers for the loss (each of
the P processes' loss, shard size and number of examples), one of n for the gradient, then on a refresh step one of
n per Lanczos vector (M: each vector needs the last one's product) and one for the products of the directions
outside span(Q) (normally the momentum), on the other steps one of (M + 2)·n for all products at once
(``matmat``), and one of 3P numbers per trial point. The loss is not folded into the gradient's all-reduce
because its finiteness decides whether a gradient is taken at all: a process that alone saw a non-finite loss
must not skip a collective its peers enter.

Curvature on a sub-batch (``curvature_batch``): the sub-batch is drawn from the whole batch, the same examples on
every process (the sampler's seed is broadcast once, from the first process), and each process evaluates the
drawn examples of its own shard; the products are then those of one process on the whole batch.
"""

from __future__ import annotations

import time

import torch
import torch.distributed as dist

from .closure import Closure, curvature_indices, loss_with_graph, start_sampler
from .curvature import HessianVectorProducts
from .losses import OUTPUT_LOSSES
from .optimizer import KryBall
from .parameters import assign, flatten


class Communication:
    """Sums across the processes of a group (``None``: the default group), counted: ``calls`` collectives of
    ``numbers`` numbers in all; with ``timed``, ``seconds`` of wall-clock inside them (the device synchronised
    around each, so that an asynchronous NCCL call is timed whole)."""

    def __init__(self, group: dist.ProcessGroup | None = None, timed: bool = False):
        self.group, self.timed = group, timed
        self.calls, self.numbers, self.seconds = 0, 0, 0.0

    @property
    def world_size(self) -> int:
        return dist.get_world_size(self.group)

    @property
    def rank(self) -> int:
        return dist.get_rank(self.group)

    def reset(self) -> None:
        self.calls, self.numbers, self.seconds = 0, 0, 0.0

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Replace ``tensor`` by its sum over the processes, in place (a contiguous tensor, or the transpose of
        one: the column-major bases of :mod:`kryball.subspace`); returns it."""
        target = tensor if tensor.is_contiguous() else tensor.T
        if not target.is_contiguous():  # collectives need contiguous memory
            raise ValueError("Communication.sum_ needs a contiguous tensor or the transpose of one")
        start = self._start(tensor)
        dist.all_reduce(target, op=dist.ReduceOp.SUM, group=self.group)
        self._stop(tensor, start, tensor.numel())
        return tensor

    def broadcast_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Replace ``tensor`` by the group's first process's, in place; returns it."""
        start = self._start(tensor)
        dist.broadcast(tensor, src=dist.get_global_rank(self.group, 0) if self.group else 0, group=self.group)
        self._stop(tensor, start, tensor.numel())
        return tensor

    def _start(self, tensor: torch.Tensor) -> float:
        if self.timed and tensor.is_cuda:
            torch.cuda.synchronize(tensor.device)
        return time.perf_counter()

    def _stop(self, tensor: torch.Tensor, start: float, numbers: int) -> None:
        if self.timed and tensor.is_cuda:
            torch.cuda.synchronize(tensor.device)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        self.numbers += numbers


class _ShareOfBatch(torch.autograd.Function):
    """The batch's loss as a value, this shard's weighted loss as the graph: forward gives ``value`` (the mean over
    all processes' examples, the same number on every process); backward passes the gradient on to the shard's
    loss times its ``weight`` (its share of the examples), so that summing the gradients — and the Hessian-vector
    products, which differentiate that backward once more — over the processes gives the batch's."""

    @staticmethod
    def forward(ctx, local: torch.Tensor, value: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(weight)
        return value.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (weight,) = ctx.saved_tensors
        return grad * weight, None, None


class _BatchLoss:
    """A closure of one shard as KryBall calls it: the loss of the whole batch, with this shard's graph.

    Its one collective also tells every process each shard's size and, when the closure returns one loss per
    example, each shard's number of examples (``examples``: per process, in rank order; ``None`` when some
    process's closure returns a scalar) — where this shard's examples sit in the batch, for curvature on a
    sub-batch."""

    def __init__(self, closure, shard_size: int, communication: Communication):
        self._closure, self._shard_size, self._communication = closure, shard_size, communication
        self.shard = Closure(closure)  # the shard's examples, for curvature on a sub-batch
        self.examples: list[int] | None = None

    def __call__(self) -> torch.Tensor:
        local = self._closure()
        if isinstance(local, OUTPUT_LOSSES):  # outputs and their loss: its per-example losses, weighted as any others
            local = local.per_example()
        examples = 0
        if isinstance(local, torch.Tensor) and local.ndim == 1 and local.numel() > 1:
            examples = local.numel()
            local = local.mean()  # one loss per example: the shard's loss is their mean
        if not isinstance(local, torch.Tensor) or local.numel() != 1:
            return local  # KryBall refuses it, on every process alike
        local = local.reshape(())
        # Each process fills its own row, so the sum hands every process every row. In float64: the loss's own
        # precision is kept whatever the number of processes.
        rows = torch.zeros(self._communication.world_size, 3, dtype=torch.float64, device=local.device)
        mine = rows[self._communication.rank]
        mine[0], mine[1], mine[2] = local.detach().double() * self._shard_size, self._shard_size, examples
        sums = self._communication.sum_(rows).sum(0)
        counts = rows[:, 2].tolist()
        self.examples = [int(c) for c in counts] if all(c > 0 for c in counts) else None
        value, weight = (sums[0] / sums[1]).to(local.dtype), (self._shard_size / sums[1]).to(local.dtype)
        return _ShareOfBatch.apply(local, value, weight)


class _SummedProducts:
    """A step's gradient and Hessian-vector products (:class:`kryball.curvature.HessianVectorProducts`), each summed over
    the processes. Each process's are those of its weighted shard loss (:class:`_ShareOfBatch`), so the sums are
    the batch's. One collective per ``matmat``: a block of products travels together."""

    def __init__(self, local: HessianVectorProducts, communication: Communication):
        self._local, self._communication = local, communication
        self.gradient = communication.sum_(local.gradient.clone())  # a copy: the local one belongs to the graph

    @property
    def count(self) -> int:
        return self._local.count

    @property
    def batched(self) -> bool:
        return self._local.batched

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        return self.matmat(v[:, None])[:, 0]

    def matmat(self, V: torch.Tensor) -> torch.Tensor:
        products = self._local.matmat(V)
        if V.shape[1] == 0:  # the same on every process: V is
            return products
        if not (products.is_contiguous() or products.T.is_contiguous()):
            products = products.contiguous()
        return self._communication.sum_(products)


class DistributedKryBall(KryBall):
    """KryBall whose every step is taken on the batch shared out among the processes of a group (this module's
    docstring; docs/scaling.md).

    Args:
        params, **options: as for :class:`kryball.KryBall`.
        process_group: the processes that share each batch (``None``: the default group, as
            ``torch.distributed.init_process_group`` made it). Not a hyperparameter: it is not in ``param_groups``
            nor in ``state_dict()``.

    Every process builds the same model and calls ``step`` once per batch with a closure of its own shard,
    ``opt.step(closure, shard_size=len(shard))``; the closure returns the shard's loss (or one loss per example,
    a 1-D tensor, whose mean is taken here; or :class:`kryball.Residuals` or :class:`kryball.Outputs`, taken as
    their per-example losses: the curvature stays the Hessian's, ``curvature="auto"`` included). ``shard_size`` (default 1 on every
    process: shards of equal size) weights each shard by its examples, so unequal shards still give the mean over
    the batch; every process needs at least one example. On construction the trainable parameters are set to those
    of the group's first process, as DDP does. ``state_dict()`` is the same on every process and is that of
    :class:`KryBall` on the whole batch: it resumes on any number of processes, and in a single-process ``KryBall``.

    ``curvature_batch`` draws its sub-batch from the whole batch, the same examples on every process as one
    process would draw: give the closure per-example losses and an optional argument, ``closure(indices=None)``,
    with ``indices`` positions in this process's shard (:mod:`kryball.closure`'s contract, shard by shard).

    ``totals`` count per process: each gradient and Hessian-vector product is one of the process's shard (the same
    counts on every process). ``communication`` counts (and with ``communication.timed = True`` times) the
    collectives.
    """

    shares_batches = True

    def __init__(self, params, *, process_group: dist.ProcessGroup | None = None, **options):
        super().__init__(params, **options)
        if self.needs_residuals:  # its shard losses are weighted (_ShareOfBatch), not residuals
            raise ValueError(f"DistributedKryBall takes Hessian curvature only, got curvature="
                             f"{self.defaults['curvature']!r}: use KryBall on one process for Gauss–Newton")
        self.communication = Communication(process_group)
        self._batch_loss: _BatchLoss | None = None  # the closure of the step under way
        trainable = self._trainable_params()
        if trainable:  # the group's first process's parameters, in one collective
            with torch.no_grad():
                assign(trainable, self.communication.broadcast_(flatten(trainable)))
        self.communication.reset()

    @property
    def wants_residuals(self) -> bool:
        """Never: the shards' losses are summed with weights, so ``curvature="auto"`` is the Hessian here."""
        return False

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("communication", Communication())  # not pickled: a process group cannot be

    def __getstate__(self):
        return {key: value for key, value in super().__getstate__().items() if key != "communication"}

    def step(self, closure=None, shard_size: int | None = None):
        """One step of thesis Algorithm 4 on the batch whose shard ``closure`` evaluates (``shard_size`` examples of
        it); returns the loss of the whole batch at θ_t (detached)."""
        if closure is None:
            return super().step(None)  # the usual message
        if shard_size is None:
            shard_size = 1
        if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
            raise ValueError(f"shard_size must be the number of examples in this process's shard, at least 1; "
                             f"got {shard_size!r}")
        self._batch_loss = _BatchLoss(closure, shard_size, self.communication)
        try:
            return super().step(self._batch_loss)
        finally:
            self._batch_loss = None

    def _curvature_products(self, *args, **kwargs) -> _SummedProducts:
        return _SummedProducts(super()._curvature_products(*args, **kwargs), self.communication)

    def _sub_batch_loss(self, params, options, closure, state):
        """This shard's part of the step's sub-batch loss (``curvature_batch``), or ``None`` where the curvature is
        the whole batch's.

        The sub-batch is drawn from the whole batch — the shards' examples in rank order — exactly as one process
        draws it from that batch (:mod:`kryball.closure`), with the sampler's seed taken from the first
        process, so every process draws the same examples and the run is single-process KryBall's. Each shard's
        loss is the mean over its drawn examples weighted by their share of the sub-batch, so the summed products
        are those of the sub-batch's mean loss; a shard none of whose examples was drawn contributes zero
        products (and still enters every collective)."""
        batch = self._batch_loss
        if options.curvature_batch is None or batch.examples is None:
            return None
        batch.shard.repeats = closure.repeats  # the sub-batch's evaluation repeats the step's first (one network)
        start_sampler(state, agree=lambda seed: self._from_first_process(seed, params[0].device))
        indices = curvature_indices(sum(batch.examples), batch.shard.takes_indices, state, options)
        if indices is None:
            return None
        start, size = sum(batch.examples[:self.communication.rank]), batch.examples[self.communication.rank]
        mine = indices[(indices >= start) & (indices < start + size)] - start
        if not len(mine):  # a loss with a graph whose Hessian is zero
            return lambda: loss_with_graph(lambda: sum(p.sum() for p in params) * 0.0)
        return lambda: batch.shard.with_graph(mine) * (len(mine) / len(indices))

    def _from_first_process(self, number: int, device: torch.device) -> int:
        """The group's first process's ``number``, on every process."""
        return int(self.communication.broadcast_(torch.tensor([number], dtype=torch.int64, device=device)).item())
