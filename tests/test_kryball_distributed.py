"""Data-parallel KryBall (kryball/distributed.py, docs/scaling.md): two processes (gloo, CPU), each stepping on its
shard of the batch, take the steps one process takes on the whole batch — up to floating-point reduction order —
and hold bit-identical parameters after every step."""

import pytest
import torch

from kryball import KryBall, Residuals
from kryball.distributed import DistributedKryBall
from kryball.closure import draw_generator
from kryball.state import SubBatchSampler
from suite.local_group import run_in_processes

# The options of the reference tests (tests/test_reference.py), and options that reach the other code paths: extra
# directions, an adaptive Krylov dimension, the last T kept between refreshes.
OPTIONS = [
    dict(krylov_dim=3, refresh=2),
    dict(krylov_dim=2, refresh=3, max_retries=2, momentum=0.5),
    dict(krylov_dim=8, refresh=1, eig_clip=0.0),
    dict(krylov_dim=1, refresh=4, initial_radius=0.1, accept_ratio=0.1),
    dict(krylov_dim=3, refresh=2, directions=("adam", "previous_step"), krylov_tol=0.3),
    dict(krylov_dim=2, refresh=2, accept_ratio=0.2, reuse_curvature=True),
]
STEPS = 6
SHARDS = {"equal": (8, 8), "unequal": (11, 5)}  # examples per process; the batch is their concatenation
# Curvature on 3 of the batch's 16 examples (kryball/closure.py), with the shipped KryBall+ directions.
SUB_BATCH = dict(krylov_dim=3, refresh=2, curvature_batch=3, directions=("adam", "previous_step"))
SAMPLER_SEED = 4


def batch():
    generator = torch.Generator().manual_seed(0)
    return (torch.randn(16, 3, dtype=torch.float64, generator=generator),
            torch.randint(0, 2, (16,), generator=generator))


def network(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Softplus(), torch.nn.Linear(6, 2)).double()


def loss_of(model, x, y, reduction="mean"):
    return lambda: torch.nn.functional.cross_entropy(model(x), y, reduction=reduction)


def train(optimizer, model, x, y, per_example=False, **step):
    losses, collectives = [], []
    for _ in range(STEPS):
        if isinstance(optimizer, DistributedKryBall):
            optimizer.communication.reset()
        closure = loss_of(model, x, y, "none" if per_example else "mean")
        losses.append(optimizer.step(closure, **step).item())
        collectives.append(getattr(optimizer, "communication", None) and optimizer.communication.calls)
    return dict(params=[p.detach().clone() for p in model.parameters()], losses=losses, collectives=collectives,
                totals=optimizer.totals, last_step=optimizer.last_step, state=optimizer.state_dict())


def one_shard_each(rank):
    """Every option set and shard layout, in this process: its shard of the batch."""
    x, y = batch()
    results = {}
    for layout, sizes in SHARDS.items():
        start = sum(sizes[:rank])
        shard = slice(start, start + sizes[rank])
        for i, options in enumerate(OPTIONS):
            # Each process starts from a different initialisation: the optimiser sets process 0's on construction.
            model = network(seed=rank)
            optimizer = DistributedKryBall(model.parameters(), **options)
            shard_size = {} if layout == "equal" else {"shard_size": sizes[rank]}
            results[layout, i] = train(optimizer, model, x[shard], y[shard], **shard_size)
    model = network()
    optimizer = DistributedKryBall(model.parameters(), **OPTIONS[0])
    half = slice(8 * rank, 8 * rank + 8)
    results["per example"] = train(optimizer, model, x[half], y[half], per_example=True)
    model = network()
    optimizer = DistributedKryBall(model.parameters(), **OPTIONS[0])
    results["residuals"] = train_on_residuals(optimizer, model, x[half], y[half])
    for layout, sizes in SHARDS.items():
        start = sum(sizes[:rank])
        shard = slice(start, start + sizes[rank])
        model = network(seed=rank)
        optimizer = DistributedKryBall(model.parameters(), **SUB_BATCH)
        torch.manual_seed(SAMPLER_SEED + rank)  # only the first process's seed counts: it is broadcast
        shard_size = {} if layout == "equal" else {"shard_size": sizes[rank]}
        results["sub-batch", layout] = train_on_examples(optimizer, model, x[shard], y[shard], **shard_size)
    return results


def train_on_examples(optimizer, model, x, y, **step):
    """``train`` with the sub-batch closure contract: per-example losses, and those of ``indices`` when given."""
    def closure(indices=None):
        xb, yb = (x, y) if indices is None else (x[indices], y[indices])
        return torch.nn.functional.cross_entropy(model(xb), yb, reduction="none")

    for _ in range(STEPS):
        optimizer.step(closure, **step)
    return dict(params=[p.detach().clone() for p in model.parameters()], totals=optimizer.totals,
                state=optimizer.state_dict())


def train_on_residuals(optimizer, model, x, y):
    """``train`` with a least-squares closure (kryball.Residuals): the logits' distance to the one-hot labels."""
    target = torch.nn.functional.one_hot(y, 2).double()
    for _ in range(STEPS):
        optimizer.step(lambda: Residuals(model(x) - target))
    return dict(params=[p.detach().clone() for p in model.parameters()], totals=optimizer.totals)


def assert_the_processes_agree_with_one(first, second, alone):
    """Both processes hold bit-identical parameters, those one process reaches on the whole batch (to 1e-10)."""
    for a, b, c in zip(first["params"], second["params"], alone["params"]):
        assert torch.equal(a, b)  # the processes never diverge
        torch.testing.assert_close(a, c, atol=1e-10, rtol=1e-10)


@pytest.fixture(scope="module")
def two_processes():
    return run_in_processes(one_shard_each, 2)


@pytest.mark.parametrize("layout", SHARDS)
@pytest.mark.parametrize("index", range(len(OPTIONS)), ids=[str(o) for o in OPTIONS])
def test_two_processes_take_the_steps_of_one_on_the_whole_batch(two_processes, layout, index):
    first, second = (results[layout, index] for results in two_processes)
    model = network()
    alone = train(KryBall(model.parameters(), **OPTIONS[index]), model, *batch())
    assert_the_processes_agree_with_one(first, second, alone)
    assert first["losses"] == pytest.approx(alone["losses"], rel=1e-12)
    assert first["totals"] == second["totals"] == alone["totals"]
    assert first["last_step"].status == alone["last_step"].status
    assert first["state"]["param_groups"] == alone["state"]["param_groups"]  # no process group among them
    torch.testing.assert_close(first["state"]["state"][0]["momentum"], alone["state"]["state"][0]["momentum"],
                               atol=1e-10, rtol=1e-10)


def test_a_closure_may_give_one_loss_per_example(two_processes):
    """Their mean is the shard's loss."""
    first, second = (results["per example"] for results in two_processes)
    model = network()
    alone = train(KryBall(model.parameters(), **OPTIONS[0]), model, *batch())
    assert_the_processes_agree_with_one(first, second, alone)


def test_a_closure_may_give_residuals_and_their_shards_are_weighted_as_losses(two_processes):
    """A least-squares shard's residuals count as its per-example losses (Hessian curvature)."""
    first, second = (results["residuals"] for results in two_processes)
    model = network()
    alone = train_on_residuals(KryBall(model.parameters(), **OPTIONS[0]), model, *batch())
    assert_the_processes_agree_with_one(first, second, alone)
    assert first["totals"] == alone["totals"]


@pytest.mark.parametrize("layout", SHARDS)
def test_curvature_on_a_sub_batch_is_that_of_one_process_on_the_whole_batch(two_processes, layout):
    """Every process draws the same examples of the whole batch, as one process would; a shard none of whose
    examples was drawn contributes zero curvature (the unequal layout has such steps, checked below)."""
    first, second = (results["sub-batch", layout] for results in two_processes)
    model = network()
    alone = KryBall(model.parameters(), **SUB_BATCH)
    torch.manual_seed(SAMPLER_SEED)
    alone = train_on_examples(alone, model, *batch())
    assert_the_processes_agree_with_one(first, second, alone)
    assert first["totals"] == second["totals"] == alone["totals"]
    assert first["totals"]["loss_evals"] > 2 * STEPS  # the sub-batch's own evaluations: it was drawn
    sampler = {key: alone["state"]["state"][0][key] for key in ("curvature_seed", "curvature_draws")}
    assert {key: first["state"]["state"][0][key] for key in sampler} == sampler
    if layout == "unequal":  # some step drew nothing from the second shard (positions 11–15)
        seed = sampler["curvature_seed"]
        draws = [torch.randperm(16, generator=draw_generator(SubBatchSampler(seed, t)))[:3] for t in range(STEPS)]
        assert any((d < SHARDS[layout][0]).all() for d in draws)


def test_collectives_per_step_are_batched(two_processes):
    """Loss and gradient, then M products one by one on a refresh step and the momentum's product, or all M + 2
    products in one collective between refreshes, then the trial loss (docs/scaling.md)."""
    collectives = two_processes[0]["equal", 0]["collectives"]  # M = 3, r = 2
    # The first step: momentum 0, so no product beyond Lanczos's.
    assert collectives == [2 + 3 + 1, 2 + 1 + 1, 2 + 3 + 1 + 1, 2 + 1 + 1, 2 + 3 + 1 + 1, 2 + 1 + 1]


def test_state_dict_of_process_0_resumes_a_single_process_run(two_processes):
    """The state is that of θ alone: it carries on in a plain KryBall on the whole batch."""
    saved = two_processes[0]["equal", 0]
    model = network()
    with torch.no_grad():
        for p, value in zip(model.parameters(), saved["params"]):
            p.copy_(value)
    resumed = KryBall(model.parameters(), **OPTIONS[0])
    resumed.load_state_dict(saved["state"])
    assert resumed.totals == saved["totals"]
    resumed.step(loss_of(model, *batch()))
    assert resumed.last_step.refreshed  # step 7 of refresh 2: the schedule carried over


def kryball_plus_on_cuda(rank):
    """20 steps of KryBall and of DistributedKryBall with KryBall+'s options, on CUDA, in float64."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(512, 40, generator=generator, dtype=torch.float64).cuda()
    y = torch.randint(0, 10, (512,), generator=generator).cuda()
    results = []
    for optimizer_class in (KryBall, DistributedKryBall):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(40, 64), torch.nn.Softplus(), torch.nn.Linear(64, 10)).double()
        model = model.cuda()
        optimizer = optimizer_class(model.parameters(), krylov_dim=3, refresh=3, curvature_batch=128,
                                    directions=("adam", "previous_step"))
        torch.manual_seed(1)  # the sampler's seed

        def closure(indices=None):
            xb, yb = (x, y) if indices is None else (x[indices], y[indices])
            return torch.nn.functional.cross_entropy(model(xb), yb, reduction="none")

        losses = [optimizer.step(closure).item() for _ in range(20)]
        results.append((losses, optimizer.totals))
    return results


@pytest.mark.gpu
@pytest.mark.skipif(not (torch.cuda.is_available() and torch.distributed.is_nccl_available()),
                    reason="needs a CUDA device and NCCL")
def test_an_nccl_group_on_cuda_takes_kryballs_steps():
    """The collectives' code path on CUDA: one process, so no communication between GPUs is tested."""
    [(alone, summed)] = run_in_processes(kryball_plus_on_cuda, 1, backend="nccl")
    assert summed[1] == alone[1] and alone[1]["hvps"] > 0
    assert summed[0] == pytest.approx(alone[0], rel=1e-9)


def test_a_process_group_is_not_a_hyperparameter():
    with pytest.raises(TypeError):
        KryBall(network().parameters(), process_group=None)
