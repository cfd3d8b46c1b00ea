"""Run a sweep file on W&B: create the sweep, run one agent, write the best run's config.

W&B sweeps need the W&B server even with the "local controller" (DESIGN §8, wandb#6234,
#9682), so credentials and the network are checked *before* the sweep is created: a failure
leaves nothing behind and points to ``--backend local``. ``wandb`` is an optional extra,
imported only here.
"""
from __future__ import annotations

import os
import pathlib

from suite.loggers import wandb_api_key_configured

from .spec import ARGS_MACRO, Spec


class BackendUnavailable(RuntimeError):
    """W&B cannot be used from here; the message says why and what to do instead."""


def _import_wandb():
    try:
        import wandb
    except ImportError:
        raise BackendUnavailable(
            'wandb is not installed: pip install -e ".[wandb]" (or use --backend local)') from None
    return wandb


def connect():
    """``(wandb, api)`` after checking credentials and reaching the server, or
    :class:`BackendUnavailable`."""
    wandb = _import_wandb()
    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        raise BackendUnavailable(f"WANDB_MODE={os.environ['WANDB_MODE']}: W&B sweeps need the "
                                 "W&B server; use --backend local")
    if not wandb_api_key_configured(wandb):
        raise BackendUnavailable("no W&B credentials (run `wandb login` or set WANDB_API_KEY); "
                                 "use --backend local to sweep without an account")
    try:
        api = wandb.Api(timeout=15)
        api.viewer  # one round trip: proves the key and the network before anything is created
    except Exception as err:  # requests/GraphQL/auth errors all mean the same thing here
        raise BackendUnavailable(f"cannot reach W&B ({type(err).__name__}: {err}); "
                                 "use --backend local") from None
    return wandb, api


def sweep_config(spec: Spec, extra: list[str]) -> dict:
    """The spec as W&B gets it: extra Hydra overrides go just before ``${args_no_hyphens}``."""
    config = dict(spec.raw)
    config["command"] = [*spec.raw["command"][:-1], *extra, ARGS_MACRO]
    return config


def config_value(config: dict, name: str):
    """A sweep parameter's value in a run's config: the agent stores it under its dotted name;
    fall back to the nested resolved config that train.py's logger may record."""
    if name in config:
        value = config[name]
        return value["value"] if isinstance(value, dict) and "value" in value else value
    node = config
    for part in name.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def run(spec: Spec, trials: int, extra: list[str], project: str, entity: str | None,
        repo: pathlib.Path):
    """Create the sweep, run ``trials`` runs here, return ``(params, value, run path)`` of the
    best run (W&B ranks runs by the spec's metric)."""
    wandb, api = connect()
    sweep_id = wandb.sweep(sweep_config(spec, extra), entity=entity, project=project)
    path = f"{entity or api.default_entity}/{project}/{sweep_id}"
    print(f"W&B sweep {path}\n  more agents, from the repository root of any machine: "
          f"wandb agent {path}", flush=True)
    cwd = os.getcwd()
    os.chdir(repo)  # the agent runs `program: train.py` relative to the working directory
    try:
        wandb.agent(sweep_id, entity=entity, project=project, count=trials)
    finally:
        os.chdir(cwd)
    best = api.sweep(path).best_run()
    if best is None:
        return None
    params = {name: config_value(best.config, name) for name in spec.parameters}
    return params, best.summary.get(spec.metric.name), "/".join(best.path)
