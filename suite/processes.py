"""Which process of a data-parallel run this is, and the process group for the run's duration (docs/scaling.md).

A run is data-parallel when it is started by ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``),
when it is a submitit job of several tasks (a SLURM job with ``tasks_per_node`` > 1 or several nodes; submitit's
``TorchDistributedEnvironment`` sets the same variables), or when its caller has made the default process group
already (the tests and the benchmark, :mod:`suite.local_group`). Otherwise it is one process, as before.

Every process uses one device: ``cuda:LOCAL_RANK`` when the run is on CUDA (NCCL), the CPU otherwise (gloo).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os

import torch
import torch.distributed as dist


@dataclasses.dataclass(frozen=True)
class Processes:
    """This process's place among the run's: ``rank`` of ``world_size``, ``local_rank`` on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Process 0: the one that writes the record, the checkpoints and W&B, and evaluates."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world_size > 1


def from_environment() -> Processes:
    """This process's place: from an existing default group, torchrun's variables, a submitit job of several
    tasks, or alone."""
    if dist.is_available() and dist.is_initialized():
        return Processes(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    if "WORLD_SIZE" not in os.environ and _submitit_tasks() > 1:
        from submitit.helpers import TorchDistributedEnvironment

        TorchDistributedEnvironment().export(set_cuda_visible_devices=False)  # MASTER_ADDR, RANK, WORLD_SIZE, …
    return torchrun_processes()


def torchrun_processes() -> Processes:
    """This process's place as torchrun's environment variables give it (alone without them)."""
    env = os.environ
    if "WORLD_SIZE" not in env:
        return Processes()
    return Processes(int(env.get("RANK", 0)), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)))


def _submitit_tasks() -> int:
    """The number of tasks of the submitit job this process runs in (0 outside one)."""
    if not os.environ.get("SUBMITIT_EXECUTOR"):
        return 0
    from submitit import JobEnvironment

    return JobEnvironment().num_tasks


def device_of(processes: Processes, device: torch.device) -> torch.device:
    """This process's device: its own GPU, by local rank, when the run is on CUDA."""
    if not processes.parallel or device.type != "cuda":
        return device
    device = torch.device("cuda", processes.local_rank)
    torch.cuda.set_device(device)  # NCCL's collectives and broadcast_object_list use the current device
    return device


@contextlib.contextmanager
def process_group(processes: Processes, device: torch.device):
    """The default process group for a run's duration: NCCL on CUDA, gloo on the CPU, joined through torchrun's
    rendezvous variables (``env://``). A group that exists already belongs to the caller and is left alone."""
    if not processes.parallel or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def hydra_overrides(argv: list[str]) -> list[str]:
    """Extra Hydra overrides for this process of a ``torchrun`` launch: process 0 keeps Hydra's run directory,
    config files and log; the others write none of them (each would otherwise make a run directory of its own,
    timestamped by its own clock), and learn process 0's directory from it (:mod:`suite.training`).

    Refuses ``-m`` (``ValueError``): each process would keep the whole sweep's books; many runs go through a
    launcher instead (``hydra/launcher=submitit_local``, docs/scaling.md)."""
    processes = torchrun_processes()
    if not processes.parallel:
        return []
    if "-m" in argv or "--multirun" in argv:
        raise ValueError("torchrun starts one run on several processes: drop -m, or run many runs with "
                         "-m hydra/launcher=submitit_local (or submitit_slurm) instead (docs/scaling.md)")
    if processes.is_main:
        return []
    return ["hydra.run.dir=.", "hydra.output_subdir=null", "hydra/job_logging=disabled",
            "hydra.job_logging.root.handlers=[]"]  # conf/config.yaml names its file handler
