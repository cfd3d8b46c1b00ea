"""Sweep parameters as Hydra overrides: formatting, composing, and checking them.

A W&B parameter name *is* a Hydra override key (``optim.lr``, ``optim.betas.0`` for one entry
of a list), because the W&B agent passes ``name=value`` straight to ``train.py`` through
``${args_no_hyphens}``. The local engine builds the very same strings, so both backends
compose identical configs.
"""
from __future__ import annotations

from omegaconf import DictConfig

from suite.config import compose_config

from .spec import SpecError


def format_override(name: str, value) -> str:
    """``name=value`` in Hydra's override grammar (repr keeps floats exact: ``1e-05``)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, (int, float)):
        text = repr(value)
    else:
        text = "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"{name}={text}"


def check(fixed: list[str], probes: dict[str, object]) -> DictConfig:
    """Compose the fixed overrides, then each parameter on its own, and name the first one that
    Hydra refuses (e.g. ``optim.lr`` for KryBall, which has no learning rate)."""
    try:
        base = compose_config(fixed)
    except Exception as err:  # Hydra raises several exception types for bad overrides
        raise SpecError("command", f"Hydra cannot compose {' '.join(fixed)}: {_first_line(err)}") from None
    for name, value in probes.items():
        try:
            compose_config([*fixed, format_override(name, value)])
        except Exception as err:
            raise SpecError(f"parameters.{name}",
                            f"not a valid Hydra override here: {_first_line(err)}") from None
    return base


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
