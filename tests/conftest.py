"""Shared fixtures of the experiment-suite tests (tests/test_suite_*.py)."""

import importlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from suite.config import CONF_DIR, REPO, compose_config  # the one composer, shared with the scripts

# Tiny sizes per task, so that every task runs an epoch in well under a second on a CPU.
TINY = {
    "mnist1d": ["task.num_samples=200", "task.batch_size=64", "model.hidden_sizes=[16]"],
    "xor": [],
    "rosenbrock": [],
    "rahimi_recht": ["task.num_samples=50", "task.dim=4", "model.hidden_sizes=[4]"],
    "saddle": [],
    "cifar10_cnn": ["task.batch_size=16", "model.channels=[4,4,8]", "model.hidden=8"],
    "cifar10_resnet": ["task.batch_size=16", "model.width=2"],
    **{f"pinn_{pde}": ["task.num_x=9", "task.num_t=5", "task.num_residual=20", "task.test_num_x=9",
                       "task.test_num_t=5", "model.hidden_sizes=[6,6,6]"] for pde in ("convection", "reaction", "wave")},
    "image_fit": ["task.size=12", "model.features=6", "model.hidden_sizes=[8,8]"],
}


# Set by .ci/run, which provides the services the tests need (a PostgreSQL server, the dev extra's packages): there a
# test whose service is missing or cannot start fails instead of skipping, so that a green CI run has run them all.
REQUIRE_SERVICES = os.environ.get("KRYBALL_REQUIRE_SERVICES") == "1"


def service_unavailable(reason: str) -> None:
    """Skip the test for want of a service, or fail it where the services are required (CI)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (KRYBALL_REQUIRE_SERVICES=1: .ci/run should have provided it)", pytrace=False)
    pytest.skip(reason)


def require_module(name: str, reason: str):
    """``pytest.importorskip`` that fails instead where the services are required (CI)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        service_unavailable(reason)


@pytest.fixture
def one_thread():
    """One intra-op thread: on a shared 2-core machine, two spinning threads cost up to 10×."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def write_cifar10(root: Path, per_file: int = 10, seed: int = 0) -> Path:
    """Random images in the official on-disk format (cifar-10-batches-py pickles) under root."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {"batch_label": name, "labels": rng.integers(0, 10, per_file).tolist(),
                 "data": rng.integers(0, 256, (per_file, 3072), dtype=np.uint8),
                 "filenames": [f"{name}_{i}.png" for i in range(per_file)]}
        (folder / name).write_bytes(pickle.dumps(entry))
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                            "ship", "truck"], "num_cases_per_batch": per_file, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return root


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory) -> Path:
    return write_cifar10(tmp_path_factory.mktemp("cifar"))


def tiny_overrides(task: str, cifar_dir: Path) -> list[str]:
    extra = [f"task.data_dir={cifar_dir}"] if task.startswith("cifar10") else []
    return TINY[task] + extra


def xor_adam_spec(*command: str) -> str:
    """A small sweep spec (W&B format): XOR with Adam, lr searched; ``command`` adds Hydra overrides."""
    lines = "".join(f"  - {c}\n" for c in ("task=xor", "optim=adam", *command, "threads=1"))
    return ("method: random\nmetric: {name: train_loss, goal: minimize}\nrun_cap: 20\nprogram: train.py\n"
            "command:\n  - ${env}\n  - ${interpreter}\n  - ${program}\n" + lines + "  - ${args_no_hyphens}\n"
            "parameters:\n  optim.lr: {distribution: log_uniform_values, min: 0.001, max: 0.1}\n")


def metrics_rows(run_dir: Path, drop=("wall_time_s",)) -> list[dict]:
    """A run's metrics.csv rows, without the columns in ``drop`` (wall-clock differs between equal runs)."""
    import csv

    with (run_dir / "metrics.csv").open() as f:
        return [{key: value for key, value in row.items() if key not in drop} for row in csv.DictReader(f)]


def straight_and_resumed(overrides: list[str], folder: Path):
    """The run of ``overrides`` straight through (``folder/straight``) and the same run stopped after its first epoch
    and resumed with ``resume=true`` (``folder/resumed``): ``(straight, interrupted summary, resumed)``."""
    import json

    from suite.training import run

    straight = run(compose_config(overrides), folder / "straight")

    def interrupt_after_first(epoch, row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(compose_config(overrides), folder / "resumed", on_epoch=interrupt_after_first)
    interrupted = json.loads((folder / "resumed" / "summary.json").read_text())
    return straight, interrupted, run(compose_config([*overrides, "resume=true"]), folder / "resumed")
