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

from suite.sweeps import tuned
from suite.sweeps.backend import (
    Backend, BackendUnavailable, Best, NoBestRun, Sweep, positive_int, prepare,
)
from suite.sweeps.registry import BACKENDS, DEFAULT
from suite.sweeps.spec import SpecError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("spec", type=pathlib.Path, help="sweeps/<task>/<optim>.yaml")
    p.add_argument("--backend", choices=tuple(BACKENDS), default=DEFAULT)
    p.add_argument("--trials", type=positive_int, help="runs to add (default: the spec's run_cap, 20)")
    p.add_argument("--tuned-dir", type=pathlib.Path, default=tuned.TUNED_DIR,
                   help="where the best config is written (default conf/tuned)")
    for backend in BACKENDS.values():
        group = p.add_argument_group(f"--backend {backend.name} only")
        for option in backend.options:
            group.add_argument(option.flag, dest=option.dest, help=option.help, type=option.type,
                               default=option.default)
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run, e.g. epochs=5")
    args = p.parse_intermixed_args(argv)
    misplaced = foreign_options(args, BACKENDS[args.backend])
    if misplaced:
        p.error(misplaced)
    return args


def foreign_options(args: argparse.Namespace, chosen: Backend) -> str | None:
    """The refusal for options of other backends given with ``chosen`` (they would be ignored)."""
    for backend in BACKENDS.values():
        given = [o.flag for o in backend.options
                 if backend is not chosen and getattr(args, o.dest) != o.default]
        if given:
            verb = "is" if len(given) == 1 else "are"
            return f"{' and '.join(given)} {verb} for --backend {backend.name}; {chosen.instead}"
    return None


def write_tuned(args: argparse.Namespace, sweep: Sweep, best: Best) -> int:
    spec = sweep.spec
    path = tuned.write(spec.task, spec.optim, best.params, list(best.provenance), sweep.selection(),
                       sweep.base, args.tuned_dir)
    shown = f"{best.value:.6g}" if isinstance(best.value, float) else best.value
    print(f"best {spec.metric.name} = {shown}  ({' '.join(f'{k}={v}' for k, v in best.params.items())})")
    print(f"tuned config: {path}")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    backend = BACKENDS[args.backend]
    try:
        sweep = prepare(args.spec, args.overrides)
        best = backend.run(sweep, args.trials or sweep.trials_default, args)
        return write_tuned(args, sweep, best)
    except SpecError as err:
        print(f"error: {args.spec}: {err}", file=sys.stderr)
        return 2
    except BackendUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NoBestRun as err:
        print(err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished trials are kept; the same command continues the sweep",
              file=sys.stderr)
        return 130
