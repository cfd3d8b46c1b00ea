"""Data-parallel KryBall+ on two processes: ``DistributedKryBall`` stepping a ``DistributedDataParallel`` model.

    python examples/ddp.py [--steps N]

Two CPU processes (gloo, spawned here; with ``torchrun`` the group comes from its environment instead) build the
same model and wrap it in DDP. Each evaluates its own shard of every batch, and ``DistributedKryBall`` sums the
shards' losses, gradients and Hessian-vector products across the processes, so every process takes the same step,
the one KryBall would take on the whole batch. A plain ``KryBall`` here would be refused: DDP averages ``.grad``,
which KryBall never reads. The last line says whether the two processes' parameters agree.
"""

import argparse
import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from kryball.distributed import DistributedKryBall

WORLD_SIZE = 2


def train(rank: int, folder: str, steps: int) -> None:
    torch.set_num_threads(1)  # one CPU thread per process: two processes, two cores
    dist.init_process_group("gloo", init_method=f"file://{os.path.join(folder, 'rendezvous')}", rank=rank,
                            world_size=WORLD_SIZE)
    torch.manual_seed(rank)  # a different initialisation on each process: DistributedKryBall takes the first's
    model = torch.nn.Sequential(torch.nn.Linear(10, 64), torch.nn.Tanh(), torch.nn.Linear(64, 3))
    ddp = DistributedDataParallel(model)
    opt = DistributedKryBall(ddp.parameters(), krylov_dim=3, curvature_batch=128,
                             directions=("adam", "previous_step"), curvature="auto")  # KryBall+
    data = torch.Generator().manual_seed(0)  # the same data set on every process
    x = torch.randn(4096, 10, generator=data)
    y = (x[:, :3] + 0.5 * x[:, 3:6] * x[:, 6:9]).argmax(1)
    for step in range(steps):
        batch = torch.randperm(len(x), generator=data)[:512]  # the same batch everywhere...
        xs, ys = x[batch].chunk(WORLD_SIZE)[rank], y[batch].chunk(WORLD_SIZE)[rank]  # ...this process's half of it

        def closure(indices=None):  # indices: positions in this process's shard
            inputs, targets = (xs, ys) if indices is None else (xs[indices], ys[indices])
            return F.cross_entropy(ddp(inputs), targets, reduction="none")

        loss = opt.step(closure, shard_size=len(xs))  # the whole batch's loss, the same on every process

    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    everyone = [torch.empty_like(flat) for _ in range(WORLD_SIZE)]
    dist.all_gather(everyone, flat)
    if rank == 0:
        agree = all(torch.equal(everyone[0], other) for other in everyone[1:])
        print(f"final: batch loss {loss.item():.4f} after {steps} steps ({opt.totals['accepted']} accepted); "
              f"the parameters of the {WORLD_SIZE} processes {'agree' if agree else 'DIFFER'} bit for bit", flush=True)
    dist.destroy_process_group()
    if rank == 0 and not agree:
        raise SystemExit(1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(train, args=(folder, args.steps), nprocs=WORLD_SIZE)


if __name__ == "__main__":
    main()
