"""Checkpoints every epoch and ``resume=true`` (issue 3, item 7).

A checkpoint holds everything the rest of the run depends on — model and optimiser state, the
metrics history, cost counters, training wall-clock, convergence bookkeeping and the torch RNG
states — so a resumed run produces the rows the uninterrupted run would have produced (batches and
noise come from (seed, epoch), :func:`tasks.base.epoch_generator`). Written atomically.

``resume=true`` continues the checkpoint in the run directory itself if there is one (a fixed
``hydra.run.dir``, or the sweep engine re-running a trial); otherwise the newest checkpoint under
the same ``outputs/`` tree whose run had the same resolved config (``resume`` aside), and the run
then continues in that directory.
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


def _comparable(config: dict) -> dict:
    return {key: value for key, value in config.items() if key != "resume"}


def find_checkpoint(cfg: DictConfig, run_dir: Path) -> Path | None:
    if (run_dir / NAME).exists():
        return run_dir / NAME
    root = next((p for p in run_dir.resolve().parents if p.name == "outputs"), run_dir.resolve().parent)
    wanted = _comparable(OmegaConf.to_container(cfg, resolve=True))
    for path in sorted(root.glob(f"**/{NAME}"), key=lambda p: p.stat().st_mtime, reverse=True):
        summary = path.parent / "summary.json"
        if summary.exists() and _comparable(json.loads(summary.read_text()).get("config", {})) == wanted:
            return path
    return None
