"""Run a sweep file on W&B: create the sweep, run one agent, write the best run's config.

W&B sweeps need the W&B server even with the "local controller" (wandb#6234, #9682), so
credentials and the network are checked *before* the sweep is created: a failure leaves nothing
behind and points to ``--backend local``. ``wandb`` is an optional extra, imported only here.
"""
from __future__ import annotations

import argparse
import os

from suite.config import REPO
from suite.loggers import wandb_api_key_configured

from .backend import (
    Anchor, Backend, BackendUnavailable, Best, NoBestRun, Option, Search, Sweep, repo_relative,
)
from .spec import ARGS_MACRO, Spec


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


class WandbBackend(Backend):
    """W&B's own sweep controller: this process runs one agent; more can join from anywhere."""

    name = "wandb"
    options = (
        Option("--project", "W&B project", default="kryball"),
        Option("--entity", "W&B entity (default: your default entity)"),
    )
    instead = ("W&B's controller samples and keeps the sweep; more agents join with the "
               "`wandb agent` command it prints")

    def run(self, sweep: Sweep, trials: int, args: argparse.Namespace) -> Best:
        """Create the sweep, run ``trials`` runs here, report the best run (W&B ranks runs by
        the spec's metric)."""
        spec, entity, project = sweep.spec, args.entity, args.project
        wandb, api = connect()
        sweep_id = wandb.sweep(sweep_config(spec, list(sweep.extra_overrides)),
                               entity=entity, project=project)
        path = f"{entity or api.default_entity}/{project}/{sweep_id}"
        print(f"W&B sweep {path}\n  more agents, from the repository root of any machine: "
              f"wandb agent {path}", flush=True)
        cwd = os.getcwd()
        os.chdir(REPO)  # the agent runs `program: train.py` relative to the working directory
        try:
            wandb.agent(sweep_id, entity=entity, project=project, count=trials)
        finally:
            os.chdir(cwd)
        best = api.sweep(path).best_run()
        if best is None:
            raise NoBestRun("the sweep has no runs: nothing to write")
        value = best.summary.get(spec.metric.name)
        return Best(
            params={name: config_value(best.config, name) for name in spec.parameters},
            value=value,
            provenance=(f"Best run of W&B sweep ({repo_relative(spec.path)}): "
                        f"{'/'.join(best.path)}, {spec.metric.name} = {value}",),
            summary=dict(best.summary),  # train.py's W&B logger puts the RunSummary fields there
        )

    def search(self, sweep: Sweep, trials: int, args: argparse.Namespace, anchors: list[Anchor]) -> Search:
        raise BackendUnavailable(
            "--backend wandb runs --protocol thesis only: the default protocol's anchor trials and "
            "re-runs need the embedded engine (W&B's controller cannot place chosen trials in a "
            "sweep). Use --backend local (a postgresql:// --storage shares its study across "
            "machines), or `wandb sweep SPEC` to run the spec's search alone")
