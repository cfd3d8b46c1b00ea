"""Where a run reports besides its local record (``logger=`` group).

Every run writes ``metrics.csv`` and ``summary.json`` whatever the logger (:mod:`record`).
``logger=csv`` adds nothing else but a line per epoch in the job's log (Hydra's ``train.log``);
``logger=wandb`` also streams the run to Weights & Biases — one W&B run per job, under multirun
too — offline when no API key is configured (``wandb sync <run_dir>/wandb/offline-run-*``
uploads it later). ``wandb`` is an optional extra and is imported only here, when used.
"""

import logging
import netrc
import os
from pathlib import Path
from urllib.parse import urlparse

from omegaconf import DictConfig, OmegaConf

from .config import ConfigError
from .run_record import RunStatus, RunSummary

log = logging.getLogger("train")


class NoLogger:
    """Reports nothing: the other processes of a data-parallel run, whose process 0 reports (docs/scaling.md)."""

    def start(self, cfg: DictConfig, run_dir: Path, history: list[dict]) -> None:
        pass

    def log(self, row: dict) -> None:
        pass

    def finish(self, summary: RunSummary) -> None:
        pass


class LocalLogger:
    def start(self, cfg: DictConfig, run_dir: Path, history: list[dict]) -> None:
        log.info("recording to %s", run_dir)

    def log(self, row: dict) -> None:
        log.info(" ".join(f"{key}={value:.6g}" if isinstance(value, float) else f"{key}={value}"
                          for key, value in row.items()))

    def finish(self, summary: RunSummary) -> None:
        log.info("status=%s", summary.status)


def wandb_api_key_configured(wandb=None) -> bool:
    """A key in ``WANDB_API_KEY`` or in ``~/.netrc`` (where ``wandb login`` stores it) for the server
    W&B talks to: ``WANDB_BASE_URL``, else the ``wandb`` module's default (not always api.wandb.ai)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        default = wandb.Settings().base_url
    except Exception:  # no module given, a stand-in, or an old wandb without Settings
        default = "https://api.wandb.ai"
    host = urlparse(os.environ.get("WANDB_BASE_URL") or default).hostname
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandbLogger(LocalLogger):
    def __init__(self, project: str = "kryball", entity: str | None = None, group: str | None = None,
                 tags: list[str] | None = None, mode: str = "auto"):
        self.settings = dict(project=project, entity=entity, group=group, tags=list(tags or []))
        self.mode = mode
        self.run = None

    def start(self, cfg: DictConfig, run_dir: Path, history: list[dict]) -> None:
        super().start(cfg, run_dir, history)
        try:
            import wandb
        except ImportError:
            raise ConfigError("logger", 'wandb is not installed: pip install -e ".[wandb]"') from None
        mode = self.mode
        if mode == "auto":
            mode = os.environ.get("WANDB_MODE") or ("online" if wandb_api_key_configured(wandb) else "offline")
        self.run = wandb.init(**self.settings, name=run_dir.name, dir=str(run_dir), mode=mode,
                              config=OmegaConf.to_container(cfg, resolve=True), reinit="finish_previous")
        for row in history:  # a resumed run starts a new W&B run: replay what came before
            self.log(row)

    def log(self, row: dict) -> None:
        super().log(row)
        self.run.log({key: value for key, value in row.items() if value is not None}, step=row["epoch"])

    def finish(self, summary: RunSummary) -> None:
        super().finish(summary)
        if self.run is not None:
            self.run.summary.update({k: v for k, v in summary.to_json().items() if k != "config" and v is not None})
            self.run.finish(exit_code=0 if summary.status != RunStatus.FAILED else 1)
