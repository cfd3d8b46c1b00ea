"""Train one model on one task with one optimiser and record the run (DESIGN.md §2, §5).

    python train.py                                          # MNIST-1D MLP, KryBall, CPU, ~1 min
    python train.py task=rosenbrock optim=lbfgs              # any task × optimiser
    python train.py experiment=table5_1_rosenbrock_u03 optim=kryball   # one cell of Table 5.1
    python train.py -m seed=0,1,2 task=xor optim=msgd,adam   # Hydra multirun

Reads top to bottom: compose (Hydra) → check and seed → build task, model, optimiser → train →
evaluate → record. :func:`run` is the whole job for a composed config; the Hydra entry point and
the sweep engine both call it.
"""

import functools
import logging
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from tasks.runtime.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from tasks.runtime.checks import ConfigError, check_config, pick_device
from tasks.runtime.closure import Counts, make_closure
from tasks.runtime.record import RunRecord

log = logging.getLogger("train")
CONF_DIR = Path(__file__).resolve().parent / "conf"


def compose_config(overrides: list[str], config_dir: Path = CONF_DIR) -> DictConfig:
    """The config ``python train.py <overrides>`` runs, for scripts and tests (no Hydra run directory)."""
    GlobalHydra.instance().clear()  # compose may run many times in one process
    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def build(node: DictConfig, **kwargs):
    """Instantiate a group's config; its ``name`` labels the run and is no constructor argument."""
    spec = OmegaConf.to_container(node, resolve=True)
    spec.pop("name", None)
    try:
        return instantiate(spec, **kwargs)
    except InstantiationException as error:  # Hydra wraps what the target raised
        if isinstance(error.__cause__, ConfigError):
            raise error.__cause__ from None
        raise


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def is_finite_row(row: dict) -> bool:
    """A non-finite loss is divergence (DESIGN.md §5: Table 5.1's N/A)."""
    return all(math.isfinite(row[key]) for key in ("train_loss", "test_loss") if row[key] is not None)


def run(cfg: DictConfig, run_dir: Path, on_epoch: Callable[[int, dict], bool | None] | None = None) -> dict:
    """Do the whole job for a composed config; write metrics.csv and summary.json into run_dir.

    ``on_epoch(epoch, row)`` is called after every epoch; returning True stops the run cleanly
    with status ``pruned`` (the sweep engine's early stopping). Returns the summary.
    """
    # Check and seed.
    check_config(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device, dtype = pick_device(cfg.device), getattr(torch, cfg.dtype)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)

    # Build the task (data or objective), the model, the optimiser and the logger.
    task = build(cfg.task, seed=cfg.seed, device=device, dtype=dtype)
    model = build(cfg.model).to(device=device, dtype=dtype)
    try:
        optimizer = build(cfg.optim)(model.parameters())
    except ValueError as error:  # a hyperparameter the optimiser itself rejects
        raise ConfigError("optim", str(error)) from None
    logger = build(cfg.logger)

    # Resume from the last checkpoint, or start afresh.
    counts, rows, wall_time, convergence, status = Counts(), [], 0.0, {}, "running"
    checkpoint = find_checkpoint(cfg, run_dir) if cfg.resume else None
    if checkpoint is not None:
        run_dir, saved = checkpoint.parent, load_checkpoint(checkpoint, device)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng"])
        counts, rows, wall_time = Counts(**saved["counts"]), saved["rows"], saved["wall_time_s"]
        convergence, status = saved["convergence"], saved["status"]
        log.info("resuming %s after epoch %d", run_dir, len(rows))
    record = RunRecord(run_dir, cfg, rows)
    logger.start(cfg, run_dir, rows)

    # Train: one optimiser step per batch, then evaluate and record once per epoch.
    finished = status in ("converged", "diverged")  # a resumed run that had already ended
    first = cfg.epochs + 1 if finished else len(rows) + 1
    epochs = tqdm(range(first, cfg.epochs + 1), initial=first - 1, total=cfg.epochs, unit="epoch",
                  desc=f"{cfg.task.name}/{cfg.optim.name}", disable=None, leave=False)
    extra = {"device": str(device), "run_dir": str(run_dir)}
    try:
        for epoch in epochs:
            model.train()
            tic, step_losses = time.perf_counter(), []
            for batch in task.batches(epoch):
                closure = make_closure(model, functools.partial(task.loss, batch=batch), optimizer, counts)
                step_losses.append(float(optimizer.step(closure).detach()))
                counts.sync(optimizer)
                if not math.isfinite(step_losses[-1]):
                    break
            if device.type == "cuda":
                torch.cuda.synchronize()
            wall_time += time.perf_counter() - tic

            model.eval()
            row = {"epoch": epoch, "train_loss": sum(step_losses) / len(step_losses), "test_loss": None,
                   "test_acc": None, **task.evaluate(model), "wall_time_s": wall_time, **counts.as_dict()}
            record.append(row)
            logger.log(row)
            if not is_finite_row(row):
                status = "diverged"
            elif not convergence and task.converged(row):
                convergence = {"epoch": epoch, "wall_time_s": wall_time}
                status = "converged" if cfg.stop_on_convergence else status
            epochs.set_postfix(loss=f"{row['train_loss']:.4g}", refresh=False)

            if cfg.checkpoint:
                save_checkpoint(run_dir, {
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "rng": torch.get_rng_state(), "counts": counts.as_dict(), "rows": record.rows,
                    "wall_time_s": wall_time, "convergence": convergence, "status": status})
            if status != "running":
                break
            record.running(convergence, extra)
            if on_epoch is not None and on_epoch(epoch, row):
                status = "pruned"
                break
        if status == "running":
            status = "converged" if convergence else "completed"
    except BaseException as error:  # Ctrl-C included: leave a readable record, then re-raise
        status, extra["error"] = "failed", f"{type(error).__name__}: {error}"
        raise
    finally:
        epochs.close()
        summary = record.summary(status, convergence, extra)
        logger.finish(summary)
    return summary


def print_summary(summary: dict) -> None:
    def fmt(value):
        return "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)

    print(f"{summary['task']} / {summary['model']} / {summary['optim']} (seed {summary['seed']}): "
          f"{summary['status']} after {summary['epochs_run']} epochs, {summary['wall_time_s']:.1f} s training")
    print(f"  final train loss {fmt(summary['final_train_loss'])} | test acc final {fmt(summary['final_test_acc'])}"
          f" peak {fmt(summary['peak_test_acc'])} | epochs to convergence {fmt(summary['epochs_to_convergence'])}")
    print(f"  gradient evals {summary['gradient_evals']} | HVPs {summary['hvps']} | loss evals {summary['loss_evals']}")
    print(f"  record: {summary['run_dir']}")


def fail(message: str, code: int = 2) -> None:
    """One line on stderr and a non-zero exit: bad input is no reason for a traceback."""
    print(message, file=sys.stderr)
    sys.exit(code)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = run(cfg, run_dir)
    except ConfigError as error:
        fail(f"error: {error.key}: {error.message}")
    except InstantiationException as error:  # e.g. task=xor model=cnn: the model does not fit
        fail(f"error: config: {error.__cause__ or error} (does the model fit the task?)")
    except KeyboardInterrupt:
        fail(f"interrupted: the record so far is in {run_dir}", code=130)
    print_summary(summary)


if __name__ == "__main__":
    main()
