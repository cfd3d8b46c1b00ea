"""Checkpoints every epoch and ``resume=true`` (docs/design.md §5).

A checkpoint holds everything the rest of the run depends on — model and optimiser state, the
metrics history, cost counters, training wall-clock, convergence bookkeeping and the torch RNG
states — so a resumed run produces the rows the uninterrupted run would have produced (batches and
noise come from (seed, epoch), :func:`tasks.base.epoch_generator`). Written atomically.

``resume=true`` continues the checkpoint in the run directory itself if there is one of the same
resolved config (``resume``, ``threads`` and ``device`` aside: a fixed ``hydra.run.dir``, or the
sweep engine re-running a trial); otherwise the newest checkpoint of that config under the same ``outputs/``
tree, and the run then continues in that directory. A checkpoint of another config is never
resumed.
"""

import json
import os
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

NAME = "checkpoint.pt"


def save_checkpoint(run_dir: Path, state: dict) -> None:
    tmp = run_dir / f".{NAME}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, run_dir / NAME)


def load_checkpoint(path: Path, device: torch.device) -> dict:
    return torch.load(path, map_location=device, weights_only=False)


def comparable(config: DictConfig | dict) -> dict:
    """A run's resolved config without the keys that do not change what it computes.

    Two runs whose ``comparable`` configs are equal are the same run: a checkpoint of one may be
    resumed by the other, and a finished one may stand in for the other (scripts/reproduce.py).
    """
    data = dict(config) if isinstance(config, dict) else OmegaConf.to_container(config, resolve=True)
    return {key: value for key, value in data.items() if key not in ("resume", "threads", "device")}


def find_checkpoint(cfg: DictConfig, run_dir: Path) -> Path | None:
    wanted = comparable(cfg)

    def of_this_config(path: Path) -> bool:
        summary = path.parent / "summary.json"
        return summary.exists() and comparable(json.loads(summary.read_text()).get("config", {})) == wanted

    here = run_dir / NAME
    if here.exists() and of_this_config(here):
        return here
    root = next((p for p in run_dir.resolve().parents if p.name == "outputs"), run_dir.resolve().parent)
    newest_first = sorted(root.glob(f"**/{NAME}"), key=lambda p: p.stat().st_mtime, reverse=True)
    return next((path for path in newest_first if of_this_config(path)), None)
