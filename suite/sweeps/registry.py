"""The sweep backends by their ``--backend`` name: the command's choices and dispatch come from here."""
from __future__ import annotations

from .backend import Backend
from .local import LocalBackend
from .wandb_backend import WandbBackend

BACKENDS: dict[str, Backend] = {backend.name: backend for backend in (LocalBackend(), WandbBackend())}
DEFAULT = LocalBackend.name
