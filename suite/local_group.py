"""Several processes on this machine as one ``torch.distributed`` group (gloo, CPU): how the tests and the
communication benchmark run data-parallel code without ``torchrun`` (docs/scaling.md).

``run_in_processes(fn, n, *args)`` spawns ``n`` processes, joins them into one group through a file in a temporary
folder, calls ``fn(rank, *args)`` in each and returns what each returned, in rank order. ``fn`` must be a
module-level function (it is pickled by reference) and its results must be ``torch.save``-able.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def run_in_processes(fn: Callable, world_size: int, *args, threads: int = 1, backend: str = "gloo") -> list:
    """``[fn(0, *args), …, fn(world_size − 1, *args)]``, each in its own process of one group, with
    ``threads`` torch threads each; ``backend="nccl"`` gives process i the GPU cuda:i."""
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(_process, args=(fn, world_size, folder, threads, backend, args), nprocs=world_size)
        return [torch.load(os.path.join(folder, f"{rank}.pt"), weights_only=False) for rank in range(world_size)]


def _process(rank: int, fn: Callable, world_size: int, folder: str, threads: int, backend: str, args: tuple) -> None:
    torch.set_num_threads(threads)
    if backend == "nccl":
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, init_method=f"file://{os.path.join(folder, 'rendezvous')}", rank=rank,
                            world_size=world_size)
    try:
        result = fn(rank, *args)
    finally:
        dist.destroy_process_group()
    torch.save(result, os.path.join(folder, f"{rank}.pt"))
