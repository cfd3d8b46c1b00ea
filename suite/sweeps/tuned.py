"""Write a sweep's best configuration as a Hydra config file under ``conf/tuned/``.

``conf/tuned/<task>_<optim>.yaml`` is a ``# @package _global_`` file holding only the tuned
values, so it layers onto the same task and optimiser at any budget::

    python train.py task=xor optim=kryball +tuned=xor_kryball

(thesis §5.2.5: tune with the 100-epoch sweep budget, then train with the task's own budget).
"""
from __future__ import annotations

import pathlib

import yaml
from omegaconf import DictConfig, OmegaConf

from suite.config import CONF_DIR, shown

TUNED_DIR = CONF_DIR / "tuned"


def nest(params: dict[str, object], base: DictConfig | None = None) -> dict:
    """Dotted override names -> nested mapping. An indexed name (``optim.betas.0``) replaces one
    entry of the list that ``base`` (the composed config) holds at ``optim.betas``."""
    cfg = OmegaConf.create({})
    for name, value in params.items():
        parent, _, last = name.rpartition(".")
        if last.isdigit() and base is not None and parent:
            seq = OmegaConf.select(cfg, parent)
            if seq is None:
                seq = list(OmegaConf.to_container(OmegaConf.select(base, parent)))
            seq = list(seq)
            seq[int(last)] = value
            OmegaConf.update(cfg, parent, seq, force_add=True)
        else:
            OmegaConf.update(cfg, name, value, force_add=True)
    return OmegaConf.to_container(cfg)


def path(task: str, optim: str, tuned_dir: pathlib.Path = TUNED_DIR) -> pathlib.Path:
    """Where the sweep of ``sweeps/<task>/<optim>.yaml`` writes its best config (``+tuned=<stem>``)."""
    return pathlib.Path(tuned_dir) / f"{task}_{optim}.yaml"


def choice(file: pathlib.Path, tuned_dir: pathlib.Path = TUNED_DIR) -> str:
    """The ``+tuned=`` choice of a tuned file: its path under ``conf/tuned`` without ``.yaml``
    (``thesis/xor_kryball`` for the thesis protocol's), its name alone for a file elsewhere."""
    file = pathlib.Path(file)
    try:
        return file.resolve().relative_to(pathlib.Path(tuned_dir).resolve()).with_suffix("").as_posix()
    except ValueError:
        return file.stem


def how_to_use(file: pathlib.Path) -> str:
    """``+tuned=<choice>`` for a file under ``conf/tuned/``; for one elsewhere (``--tuned-dir``), where Hydra will not
    look, what to do with it."""
    file = pathlib.Path(file)
    if file.resolve().is_relative_to(TUNED_DIR.resolve()):
        return f"+tuned={choice(file)}"
    return f"to use it, copy it into {shown(TUNED_DIR)}/ and add +tuned={file.stem}"


def usage(selection: list[str], name: str) -> str:
    """The command that trains with the tuned file ``name`` (``selection``: the sweep's choices)."""
    return f"python train.py {' '.join(selection)} +tuned={name}"


def write(task: str, optim: str, params: dict[str, object], header: list[str], selection: list[str],
          base: DictConfig | None = None, tuned_dir: pathlib.Path = TUNED_DIR,
          name: str | None = None) -> pathlib.Path:
    """Write the file and return its path; ``header`` lines become comments (provenance), and
    ``selection`` (the sweep's config-group choices) goes into the usage line. ``name`` (the
    ``+tuned=`` choice) defaults to ``<task>_<optim>``; :mod:`suite.sweeps.publish` decides it."""
    file = pathlib.Path(tuned_dir) / f"{name}.yaml" if name else path(task, optim, tuned_dir)
    file.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# @package _global_", *(f"# {line}" for line in header), f"# Use: {usage(selection, choice(file))}", ""]
    body = yaml.safe_dump(nest(params, base), default_flow_style=False, sort_keys=True)
    file.write_text("\n".join(lines) + body)
    return file
