"""The per-seed results beside a tuned config: ``conf/tuned/<name>.results.json`` (docs/sweeps.md,
"The results file").

A tuned config says only which values won; this file says how they were chosen and what they
scored, seed by seed, so that a later run can be placed against them and a later study can show
it beat them on the same seeds (:mod:`suite.sweeps.publish`). JSON, not YAML, so that Hydra does
not offer it as a ``+tuned=`` choice; strict JSON (a non-finite number is ``null``); paths relative
to the repository. Its fields:

``format``
    :data:`FORMAT`, raised when a field changes meaning.
``tuned``, ``use``
    the ``+tuned=`` name and the command that uses it.
``protocol``, ``spec``, ``study``, ``overrides``
    how it was tuned: ``robust`` or ``thesis``, the spec, the study, and the command line's
    extra Hydra overrides.
``metric``
    ``{"name", "goal"}``: what selected (``val_acc`` ...; ``epochs_to_convergence`` on the function
    tasks and XOR, scored as :func:`suite.sweeps.objective.trial_value` says).
``params``
    the winner's values, by Hydra override key.
``selection``
    ``{"statistic", "seeds", "value", "trial"}``: ``mean`` over the re-run seeds (robust) or
    ``single run`` on the search seed (thesis), the value it reached, the winner's search trial.
``seeds``
    one entry per seed of the selection: ``seed``, ``value`` (the metric as scored), then the
    run's own :data:`PER_SEED` fields from its ``summary.json`` and its ``run_dir``.
``candidates``
    every setting the robust protocol re-ran (``trial``, ``anchor``, ``params``, ``search_value``,
    ``mean``, ``values`` per seed); empty for the thesis protocol.
``search``
    ``{"trials", "seed", "epochs", "anchors"}``: the search's size, seed, budget and anchors.
``setting``
    ``{"task", "epochs"}``: the resolved ``task`` config and the epochs every run of the study had —
    what a later run must share to be placed against these results (:mod:`suite.standing`).
``duration_s``
    wall-clock of this command's phases (``search``, ``reruns``, ``total``); a resumed study
    counts only the last command. ``training_s`` sums the runs' own training time.
``date``, ``machine``, ``code_version``
    when (UTC), on what (platform, CPU count, Python, PyTorch, device) and with which code.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import pathlib
import platform

from suite.run_record import code_version, write_atomic

from .backend import repo_relative

FORMAT = 1
SUFFIX = ".results.json"
# summary.json fields kept per seed: what tables and "where does my run stand" compare against.
PER_SEED = ("status", "final_val_acc", "final_val_loss", "peak_val_acc", "final_test_acc", "final_test_loss",
            "peak_test_acc", "final_train_loss", "epochs_to_convergence", "epochs_run", "wall_time_s")
# Overrides that change where or how fast a run goes, not what it computes (suite.checkpoint.comparable).
NOT_RESULTS = ("threads=", "device=", "resume=")


def path_for(tuned_file: pathlib.Path) -> pathlib.Path:
    """``conf/tuned/<name>.results.json`` beside ``conf/tuned/<name>.yaml``."""
    return tuned_file.with_name(tuned_file.stem + SUFFIX)


def finite(value):
    """A number as JSON can hold it: non-finite -> None."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def seed_entry(seed: int, value: float, summary: dict | None) -> dict:
    """One seed's line: its scored value and its run's final metrics."""
    summary = summary or {}
    entry = {"seed": seed, "value": finite(value), **{key: finite(summary.get(key)) for key in PER_SEED}}
    entry["run_dir"] = repo_relative(summary["run_dir"]) if summary.get("run_dir") else None
    return entry


def setting(base) -> dict:
    """What the study's runs trained on: the resolved task config and the budget (``base``: the
    composed config of a trial)."""
    from omegaconf import OmegaConf

    return {"task": OmegaConf.to_container(base.task, resolve=True), "epochs": int(base.epochs)}


def machine(device: str | None) -> dict:
    """The machine the runs ran on, without names or paths."""
    import torch

    return {"platform": platform.platform(), "processor": platform.machine(), "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__, "device": device}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def stamp(results: dict, device: str | None) -> dict:
    """``results`` with the date, machine and code version filled in."""
    return {"format": FORMAT, **results, "date": now(), "machine": machine(device), "code_version": code_version()}


def comparable(results: dict) -> dict:
    """What two results must share for one to replace the other: the same protocol, spec, metric,
    budget and selection seeds, and the same overrides apart from where and how fast they ran."""
    return {
        "protocol": results.get("protocol"), "spec": results.get("spec"), "metric": results.get("metric"),
        "epochs": (results.get("search") or {}).get("epochs"),
        "seeds": (results.get("selection") or {}).get("seeds"),
        "overrides": sorted(o for o in results.get("overrides", []) if not o.startswith(NOT_RESULTS)),
    }


def read(path: pathlib.Path) -> dict | None:
    """The results file, or None if there is none or it cannot be read."""
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None


def write(path: pathlib.Path, results: dict) -> None:
    write_atomic(pathlib.Path(path), json.dumps(results, indent=2, allow_nan=False) + "\n")
