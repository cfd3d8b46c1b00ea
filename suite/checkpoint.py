"""Checkpoints every epoch and ``resume=true`` (docs/design.md §5).

A checkpoint holds everything the rest of the run depends on — model and optimiser state, the
metrics history, cost counters, training wall-clock, convergence bookkeeping and the torch RNG
states — so a resumed run produces the rows the uninterrupted run would have produced (batches and
noise come from (seed, epoch), :func:`tasks.base.epoch_generator`). It also holds the comparable
config of the run that wrote it (``config``), so that it says itself which run it belongs to:
a process killed after its first checkpoint but before its first ``summary.json``, or a directory
that another config's run has since written a summary into, cannot confuse it.

Written so that a process killed at any moment leaves either the previous checkpoint or the new
one, whole: the new one goes to a temporary file, is flushed to disk, and replaces the old one with
an atomic rename. A file that cannot be read (written by something else, or cut short by a crash of
the machine) is skipped with a warning, never loaded.

``resume=true`` continues the checkpoint in the run directory itself if there is one of the same
resolved config (``resume``, ``threads`` and ``device`` aside: a fixed ``hydra.run.dir``, or the
sweep engine re-running a trial); otherwise the newest checkpoint of that config under the same ``outputs/``
tree, and the run then continues in that directory. A checkpoint of another config is never
resumed.
"""

import json
import os
import warnings
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from .optimisers.presentation import without_presentation

NAME = "checkpoint.pt"
# Config keys added after records existed, whose null is what a record without them ran: left out of
# ``comparable`` when null, so a finished run from before the key is still the same run.
ABSENT_WHEN_NULL = ("time_budget_s",)


def save_checkpoint(run_dir: Path, state: dict) -> None:
    """Replace the run's checkpoint by ``state`` atomically (see the module docstring)."""
    tmp = run_dir / f".{NAME}.tmp"
    with tmp.open("wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())  # the data is on disk before the rename makes it the checkpoint
    os.replace(tmp, run_dir / NAME)


def load_checkpoint(path: Path, device: torch.device) -> dict:
    return torch.load(path, map_location=device, weights_only=False)


def comparable(config: DictConfig | dict) -> dict:
    """A run's resolved config without the keys that do not change what it computes: ``resume``, ``threads``,
    ``device``, and how reports show its optimiser (``optim.suite``'s label, colour, …:
    :func:`suite.optimisers.presentation.without_presentation`).

    Two runs whose ``comparable`` configs are equal are the same run: a checkpoint of one may be
    resumed by the other, and a finished one may stand in for the other (scripts/reproduce.py).
    """
    data = dict(config) if isinstance(config, dict) else OmegaConf.to_container(config, resolve=True)
    if isinstance(data.get("optim"), dict):
        data["optim"] = without_presentation(data["optim"])
    return {key: value for key, value in data.items()
            if key not in ("resume", "threads", "device") and not (key in ABSENT_WHEN_NULL and value is None)}


def checkpoint_config(path: Path) -> dict | None:
    """The comparable config of the run that wrote the checkpoint at ``path``; None if it cannot be read or says
    nothing (a checkpoint from before checkpoints held their config, beside no summary)."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False, mmap=True)  # tensors stay on disk
    except Exception as error:  # truncated, not a torch file, unreadable: whatever it is, it is not resumed
        warnings.warn(f"checkpoint {path} cannot be read ({type(error).__name__}: {error}); it is not resumed",
                      stacklevel=2)
        return None
    if "config" in saved:
        return saved["config"]
    summary = path.parent / "summary.json"  # older checkpoints: the summary beside them names their config
    try:
        return comparable(json.loads(summary.read_text()).get("config", {}))
    except (OSError, ValueError):
        return None


def search_root(run_dir: Path) -> Path:
    """Where ``resume=true`` looks for a checkpoint of the run's config: under the ``outputs/`` folder the run directory
    lies in (else beside it)."""
    return next((p for p in run_dir.resolve().parents if p.name == "outputs"), run_dir.resolve().parent)


def find_checkpoint(cfg: DictConfig, run_dir: Path) -> Path | None:
    wanted = comparable(cfg)

    def of_this_config(path: Path) -> bool:
        return checkpoint_config(path) == wanted

    here = run_dir / NAME
    if here.exists() and of_this_config(here):
        return here
    newest_first = sorted(search_root(run_dir).glob(f"**/{NAME}"), key=lambda p: p.stat().st_mtime, reverse=True)
    return next((path for path in newest_first if path != here.resolve() and of_this_config(path)), None)
