"""Hyperparameter sweeps of thesis §5.2.5: Bayesian search + Hyperband, one spec per
task x optimiser (``sweeps/<task>/<optim>.yaml``, W&B's format).

    python scripts/sweep.py sweeps/xor/kryball.yaml --trials 20              # embedded engine
    python scripts/sweep.py sweeps/xor/kryball.yaml --workers 2              # 2 processes
    python scripts/sweep.py sweeps/xor/kryball.yaml --storage postgresql://u:p@host/db
    python scripts/sweep.py sweeps/xor/kryball.yaml --backend wandb          # W&B agent
    python scripts/sweep.py sweeps/xor/kryball.yaml --trials 3 epochs=5      # + Hydra overrides

Every trial is an ordinary ``train.py`` run; the best configuration is written to
``conf/tuned/<task>_<optim>.yaml``. A bad spec is refused before any trial starts (exit 2).
"""
from __future__ import annotations

import argparse
import pathlib
import sys

from suite.config import CONF_DIR, REPO
from suite.sweeps import hydra_overrides, local, objective, space, tuned, wandb_backend
from suite.sweeps.spec import SpecError, load


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("spec", type=pathlib.Path, help="sweeps/<task>/<optim>.yaml")
    p.add_argument("--backend", choices=("local", "wandb"), default="local")
    p.add_argument("--trials", type=int, help="runs to add (default: the spec's run_cap, 20)")
    p.add_argument("--storage", help="local: journal file path (default outputs/sweeps/<study>/"
                                     "journal.log) or postgresql:// / mysql:// URL shared by machines")
    p.add_argument("--study-name", help="default <task>-<optim>")
    p.add_argument("--workers", type=int, default=1, help="local worker processes on this machine")
    p.add_argument("--seed", type=int, help="sampler seed (leave unset with several workers)")
    p.add_argument("--out", type=pathlib.Path, help="trial run directories (default outputs/sweeps/<study>)")
    p.add_argument("--tuned-dir", type=pathlib.Path, default=tuned.TUNED_DIR,
                   help="where the best config is written (default conf/tuned)")
    p.add_argument("--project", default="kryball", help="W&B project")
    p.add_argument("--entity", help="W&B entity (default: your default entity)")
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run, e.g. epochs=5")
    args = p.parse_intermixed_args(argv)
    if args.trials is not None and args.trials < 1 or args.workers < 1:
        p.error("--trials and --workers must be at least 1")
    if args.backend == "wandb" and (args.workers > 1 or args.storage):
        p.error("--workers and --storage are for --backend local; on W&B, start more agents "
                "with the `wandb agent` command the sweep prints")
    return args


def prepare(args):
    """Check everything before a trial starts: the spec, its space, and each parameter as a
    Hydra override of this task/optimiser. Returns (spec, local overrides, composed config)."""
    spec = load(args.spec)
    searched, constants = space.search_space(spec)
    if spec.metric.name not in objective.METRICS:
        raise SpecError("metric.name", f"{spec.metric.name!r} is not one of {', '.join(objective.METRICS)}")
    # The command's logger choice is for W&B runs; local trials keep the default logger (and the
    # W&B backend passes the command on unchanged).
    fixed = [o for o in spec.fixed_overrides if not o.startswith("logger=")] + list(args.overrides)
    probes = {n: (d.choices[0] if hasattr(d, "choices") else d.low) for n, d in searched.items()}
    base = hydra_overrides.check(fixed, {**probes, **constants})
    return spec, fixed, base


def run_local(args, spec, fixed, base) -> int:
    study_name = args.study_name or spec.study_name
    out = args.out or REPO / "outputs" / "sweeps" / study_name
    job = local.Job(
        spec_path=spec.path, overrides=tuple(fixed),
        evaluate=objective.TrainRun(spec.metric.name, spec.metric.goal),
        max_resource=int(base.epochs), storage=args.storage or str(out / "journal.log"),
        study_name=study_name, out_dir=out, seed=args.seed,
    )
    study = local.run(job, args.trials or spec.run_cap or 20, args.workers)
    best = local.best_trial(study)
    print(f"[{study_name}] {local.describe(study)}")
    if best is None:
        print("no trial completed: nothing to write", file=sys.stderr)
        return 1
    header = [f"Best of study {study_name!r} ({spec.path.as_posix()}): trial {best.number} "
              f"of {len(study.trials)}, {spec.metric.name} = {best.value:.6g}",
              f"Run directory: {best.user_attrs.get('run_dir')}"]
    return _finish(args, spec, fixed, best.params, best.value, header, base)


def run_wandb(args, spec, fixed, base) -> int:
    result = wandb_backend.run(spec, args.trials or spec.run_cap or 20, list(args.overrides),
                               args.project, args.entity, REPO)
    if result is None:
        print("the sweep has no runs: nothing to write", file=sys.stderr)
        return 1
    params, value, run_path = result
    header = [f"Best run of W&B sweep ({spec.path.as_posix()}): {run_path}, "
              f"{spec.metric.name} = {value}"]
    return _finish(args, spec, fixed, params, value, header, base)


def _finish(args, spec, fixed, params, value, header, base) -> int:
    # The config-group choices (task/experiment/optim) select what the tuned values apply to;
    # the sweep budget (epochs=100, stop_on_convergence, logger) is deliberately left out.
    selection = [o for o in fixed if (CONF_DIR / o.split("=", 1)[0]).is_dir()]
    path = tuned.write(spec.task, spec.optim, params, header, selection, base, args.tuned_dir)
    shown = f"{value:.6g}" if isinstance(value, float) else value
    print(f"best {spec.metric.name} = {shown}  ({' '.join(f'{k}={v}' for k, v in params.items())})")
    print(f"tuned config: {path}")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        spec, fixed, base = prepare(args)
        if args.backend == "wandb":
            return run_wandb(args, spec, fixed, base)
        return run_local(args, spec, fixed, base)
    except SpecError as err:
        print(f"error: {args.spec}: {err}", file=sys.stderr)
        return 2
    except wandb_backend.BackendUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished trials are kept; the same command continues the sweep",
              file=sys.stderr)
        return 130

