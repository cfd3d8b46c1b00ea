"""The sweep backends and protocols by their ``--backend`` / ``--protocol`` names: the command's
choices and dispatch come from here."""
from __future__ import annotations

from .backend import Backend
from .local import LocalBackend
from .robust_protocol import RobustProtocol
from .thesis_protocol import ThesisProtocol
from .tuning_protocol import Protocol
from .wandb_backend import WandbBackend

BACKENDS: dict[str, Backend] = {backend.name: backend for backend in (LocalBackend(), WandbBackend())}
DEFAULT = LocalBackend.name
PROTOCOLS: dict[str, Protocol] = {protocol.name: protocol for protocol in (RobustProtocol(), ThesisProtocol())}
DEFAULT_PROTOCOL = RobustProtocol.name
