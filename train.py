"""Train one model on one task with one optimiser and record the run: the suite's Hydra entry point.

    python train.py                                          # MNIST-1D MLP, KryBall+, CPU, ~25 s
    python train.py task=rosenbrock optim=lbfgs              # any task × optimiser
    python train.py experiment=table5_1_rosenbrock_u03 optim=kryball   # one cell of Table 5.1
    python train.py -m seed=0,1,2 task=xor optim=msgd,adam   # Hydra multirun
    python train.py -m hydra/launcher=submitit_local seed=0,1 task=xor   # each run a submitit job
    torchrun --nproc_per_node=2 train.py task=mnist1d        # one run, each batch shared by 2 processes

Hydra composes the config from ``conf/``; :func:`suite.training.run` does the job (docs/suite.md;
data parallelism and launchers: docs/scaling.md).
"""

import shutil
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from omegaconf import DictConfig

from suite import comparison_results, processes
from suite.config import ConfigError
from suite.run_record import RunSummary
from suite.standing import standing_lines
from suite.training import run

def print_summary(summary: RunSummary, track: str) -> None:
    def fmt(value):
        return "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)

    print(f"{summary.task} / {summary.model} / {summary.optim} (seed {summary.seed}): "
          f"{summary.status} after {summary.epochs_run} epochs, {summary.wall_time_s:.1f} s training")
    print(f"  final train loss {fmt(summary.final_train_loss)} | test acc final {fmt(summary.final_test_acc)}"
          f" peak {fmt(summary.peak_test_acc)} | epochs to convergence {fmt(summary.epochs_to_convergence)}")
    if summary.final_l2_relative_error is not None or summary.final_test_psnr is not None:  # the workloads' metrics
        print(f"  L2 relative error final {fmt(summary.final_l2_relative_error)} best "
              f"{fmt(summary.best_l2_relative_error)} | test PSNR final {fmt(summary.final_test_psnr)} dB best "
              f"{fmt(summary.best_test_psnr)} dB")
    print(f"  gradient evals {summary.gradient_evals} | HVPs {summary.hvps} | loss evals {summary.loss_evals}")
    for line in standing_lines(summary, track):
        print(line)
    print(f"  record: {summary.run_dir}")


def fail(message: str, code: int = 2) -> None:
    """One line on stderr and a non-zero exit: bad input is no reason for a traceback."""
    print(message, file=sys.stderr)
    sys.exit(code)


def discard_stub(run_dir: Path) -> None:
    """A run refused before it started leaves no run directory: remove what Hydra wrote into it (``.hydra/`` and the
    log), and the directory if that emptied it, with the folders above it under ``outputs/`` that it alone was in
    (the date folder) — never anything else, so a directory that held more stays as it was."""
    if (run_dir / "summary.json").exists():
        return
    shutil.rmtree(run_dir / ".hydra", ignore_errors=True)
    (run_dir / "train.log").unlink(missing_ok=True)
    folder, cwd = run_dir.resolve(), Path.cwd().resolve()
    while folder != cwd and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
        if "outputs" not in folder.parts or folder.name == "outputs":
            break


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        summary = run(cfg, run_dir)
    except ConfigError as error:
        discard_stub(run_dir)
        fail(f"error: {error.key}: {error.message}")
    except InstantiationException as error:  # e.g. task=xor model=cnn: the model does not fit
        discard_stub(run_dir)
        fail(f"error: config: {error.__cause__ or error} (does the model fit the task?)")
    except KeyboardInterrupt:
        fail(f"interrupted: the record so far is in {run_dir}", code=130)
    if processes.from_environment().is_main:  # one summary for a data-parallel run
        # Where the run stands: against the tuned track for a +tuned= run, else against the self-tuning one.
        tuned = HydraConfig.get().runtime.choices.get("tuned") is not None
        print_summary(summary, comparison_results.TUNED if tuned else comparison_results.SELF_TUNING)


if __name__ == "__main__":
    try:
        sys.argv += processes.hydra_overrides(sys.argv)  # under torchrun, process 0 alone writes Hydra's files
    except ValueError as error:
        fail(f"error: {error}")
    main()
