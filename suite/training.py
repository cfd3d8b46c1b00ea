"""One run: train a model on a task with an optimiser, and record it (docs/design.md, "The run record").

Reads top to bottom: check and seed → build task, model, optimiser → (resume) → train →
evaluate → record. :func:`run` is the whole job for a composed config; ``train.py``, the sweep
engine and the reproduction all call it, so every number in the project comes from this loop.

A run ends at ``epochs``, at the task's convergence criterion (``stop_on_convergence``), at a
non-finite loss, or — with ``time_budget_s`` set — after the first epoch whose cumulative training
wall-clock (``wall_time_s``, evaluation excluded) reaches the budget, as if its epochs had run out
(``completed``, or ``converged`` if the criterion was met without stopping the run). An optimiser
whose config says ``suite.train_eval_modes`` (Schedule-Free) is in train mode for each epoch's steps
and in eval mode for the evaluation, the checkpoint and after the run, so that what is evaluated,
saved and left in the model is the weights its authors say to evaluate.

Under ``torchrun`` (or any launch of several processes, :mod:`suite.processes`) every process runs this
loop on its shard of each batch (:mod:`suite.data_parallel`); process 0 alone evaluates and writes the
record, the checkpoints and W&B, into its run directory, which the others learn from it (docs/scaling.md).
"""

import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import DictConfig
from tqdm import tqdm

from . import processes as processes_mod
from .checkpoint import comparable, find_checkpoint, load_checkpoint, save_checkpoint, search_root
from .config import check_config, pick_device, shown
from .data_parallel import DataParallel
from .experiment import build, build_experiment
from .krylov_record import KrylovRecord
from .loggers import NoLogger
from .optimisers import set_mode
from .run_record import COLUMNS, RunRecord, RunStatus, RunSummary
from .step_closure import Counts

log = logging.getLogger("train")


# The default thread rule (``threads=null``; docs/suite.md, "Threads"): on a CPU, a model below this many parameters
# trains with one intra-op thread. Its operations are too small to share out: a second thread gains little on an
# idle machine and, when another process is busy, waits on it at every operation (measured there: the main job took
# 13× as long with PyTorch's default of two threads as with one).
SMALL_MODEL_PARAMETERS = 1_000_000


def intra_op_threads(requested: int | None, model: torch.nn.Module, device: torch.device) -> int | None:
    """The torch intra-op threads of a run: ``threads`` as configured, or by the default rule (None: PyTorch's)."""
    if requested is not None:
        return requested
    if device.type == "cpu" and sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMETERS:
        return 1
    return None


def notice(line: str) -> None:
    """One line for the user, on stderr (stdout is the run's summary) and in the run's log."""
    log.info(line)
    print(line, file=sys.stderr, flush=True)


def is_finite_row(row: dict) -> bool:
    """A non-finite loss is divergence (Table 5.1's N/A)."""
    return all(math.isfinite(row[key]) for key in ("train_loss", "test_loss", "val_loss") if row[key] is not None)


def budget_spent(cfg: DictConfig, wall_time: float) -> bool:
    """Whether the run's training wall-clock has reached its ``time_budget_s`` (never without one)."""
    budget = cfg.get("time_budget_s")
    return budget is not None and wall_time >= budget


def run(cfg: DictConfig, run_dir: Path, on_epoch: Callable[[int, dict], bool | None] | None = None) -> RunSummary:
    """Do the whole job for a composed config; write metrics.csv and summary.json into run_dir.

    ``on_epoch(epoch, row)`` is called after every epoch; returning True stops the run cleanly
    with status ``pruned`` (the sweep engine's early stopping). Returns the summary.
    """
    # Check and seed; join the run's other processes, if it has any.
    check_config(cfg)
    processes = processes_mod.from_environment()
    run_dir = Path(run_dir)
    if processes.is_main:  # the others record nothing: their run directory is process 0's
        run_dir.mkdir(parents=True, exist_ok=True)
    device = processes_mod.device_of(processes, pick_device(cfg.device))
    with processes_mod.process_group(processes, device):
        return _run(cfg, run_dir, on_epoch, processes, device)


def _run(cfg: DictConfig, run_dir: Path, on_epoch, processes: processes_mod.Processes,
         device: torch.device) -> RunSummary:
    # Build the task (data or objective), the model, the optimiser and the logger.
    experiment = build_experiment(cfg, device)
    task, model = experiment.task, experiment.model
    if (threads := intra_op_threads(cfg.threads, model, device)) is not None:
        torch.set_num_threads(threads)
    parallel = DataParallel(processes, model, experiment.optimizer, cfg.optim.name,
                            least_squares=getattr(task, "least_squares", False),
                            outputs=getattr(task, "outputs", False))
    optimizer = parallel.optimizer
    run_dir = parallel.from_main(lambda: run_dir)  # the run directory is process 0's
    logger = build(cfg.logger) if parallel.is_main else NoLogger()

    # Resume from the last checkpoint (the one process 0 finds, loaded by every process), or start afresh.
    counts, rows, wall_time, convergence, status = Counts(), [], 0.0, {}, RunStatus.RUNNING
    checkpoint = parallel.from_main(lambda: find_checkpoint(cfg, run_dir) if cfg.resume else None)
    if cfg.resume and checkpoint is None and parallel.is_main:  # say so: a user cannot tell otherwise
        notice(f"resume=true: no checkpoint of this config under {shown(search_root(run_dir))}/ (runs with "
               "checkpoint=true write one every epoch); this run starts afresh")
    if checkpoint is not None:
        run_dir, saved = checkpoint.parent, load_checkpoint(checkpoint, device)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng"])
        counts, rows, wall_time = Counts(**saved["counts"]), saved["rows"], saved["wall_time_s"]
        convergence, status = saved["convergence"], RunStatus(saved["status"])
        log.info("resuming %s after epoch %d", run_dir, len(rows))
    record = RunRecord(run_dir, cfg, rows, write=parallel.is_main)
    logger.start(cfg, run_dir, rows)

    # Train: one optimiser step per batch, then evaluate and record once per epoch.
    # A resumed run whose checkpoint says it had ended (converged, diverged, or completed at its time budget).
    first = cfg.epochs + 1 if status.is_final else len(rows) + 1
    epochs = tqdm(range(first, cfg.epochs + 1), initial=first - 1, total=cfg.epochs, unit="epoch",
                  desc=f"{cfg.task.name}/{cfg.optim.name}", disable=None if parallel.is_main else True, leave=False)
    krylov = KrylovRecord(optimizer)  # the Krylov dimension KryBall chose, per epoch
    extra = {"device": str(device), "run_dir": str(run_dir), "processes": processes.world_size}
    try:
        for epoch in epochs:
            model.train()
            set_mode(optimizer, training=True)
            tic, step_losses = time.perf_counter(), []
            for batch in task.batches(epoch):
                step_losses.append(parallel.step(task.loss, batch, counts))
                counts.sync(optimizer)
                krylov.after_step()
                if not math.isfinite(step_losses[-1]):
                    break
            if device.type == "cuda":
                torch.cuda.synchronize()
            wall_time += time.perf_counter() - tic

            model.eval()
            set_mode(optimizer, training=False)  # evaluated, checkpointed and left as the weights to evaluate
            row = {**dict.fromkeys(COLUMNS), "epoch": epoch, "train_loss": sum(step_losses) / len(step_losses),
                   **parallel.end_epoch(task.evaluate), "wall_time_s": wall_time, **counts.as_dict(),
                   **krylov.end_epoch()}
            record.append(row)
            logger.log(row)
            if not is_finite_row(row):
                status = RunStatus.DIVERGED
            elif not convergence and task.converged(row):
                convergence = {"epoch": epoch, "wall_time_s": wall_time}
                status = RunStatus.CONVERGED if cfg.stop_on_convergence else status
            if status == RunStatus.RUNNING and budget_spent(cfg, wall_time):  # as if the epochs had run out
                status = RunStatus.CONVERGED if convergence else RunStatus.COMPLETED
            epochs.set_postfix(loss=f"{row['train_loss']:.4g}", refresh=False)

            if cfg.checkpoint and parallel.is_main:
                save_checkpoint(run_dir, {
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "rng": torch.get_rng_state(), "counts": counts.as_dict(), "rows": record.rows,
                    "wall_time_s": wall_time, "convergence": convergence, "status": status.value,
                    "config": comparable(cfg)})
            if status != RunStatus.RUNNING:
                break
            record.running(convergence, extra)
            if on_epoch is not None and on_epoch(epoch, row):
                status = RunStatus.PRUNED
                break
        if status == RunStatus.RUNNING:
            status = RunStatus.CONVERGED if convergence else RunStatus.COMPLETED
    except BaseException as error:  # Ctrl-C included: leave a readable record, then re-raise
        status, extra["error"] = RunStatus.FAILED, f"{type(error).__name__}: {error}"
        raise
    finally:
        epochs.close()
        summary = record.summary(status, convergence, extra)
        logger.finish(summary)
    return summary
