"""Hyperparameter sweeps, one spec per task x optimiser (``sweeps/<task>/<optim>.yaml``, W&B's
format), tuned by a protocol (docs/sweeps.md).

    python scripts/sweep.py sweeps/mnist1d/adam.yaml                         # default protocol
    python scripts/sweep.py sweeps/mnist1d/adam.yaml --workers 2             # 2 processes
    python scripts/sweep.py sweeps/xor/kryball.yaml --protocol thesis        # thesis §5.2.5, exactly
    python scripts/sweep.py sweeps/xor/kryball.yaml --protocol thesis --backend wandb
    python scripts/sweep.py sweeps/xor/kryball.yaml --trials 3 epochs=5      # + Hydra overrides
    python scripts/sweep.py sweeps/mnist1d/kryball.yaml --workers 4 --executor submitit_slurm   # SLURM jobs

The default protocol runs the optimiser's defaults first, searches, re-runs the best settings on
further seeds and takes the best mean; ``--protocol thesis`` runs the thesis's Hyperband sweep on
one seed. Every trial is an ordinary ``train.py`` run; the result is written to
``conf/tuned/<task>_<optim>.yaml`` with its per-seed results beside it, unless that would replace
a committed result it did not beat (then under the study's own name). A bad spec is refused
before any trial starts (exit 2).
"""
from __future__ import annotations

import argparse
import pathlib
import sys

from suite.sweeps import tuned
from suite.sweeps.backend import BackendUnavailable, NoBestRun, positive_int
from suite.sweeps.choices import BACKENDS, DEFAULT, DEFAULT_PROTOCOL, PROTOCOLS
from suite.sweeps.publish import publish
from suite.sweeps.sources import SourceError
from suite.sweeps.spec import SpecError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("spec", type=pathlib.Path, help="sweeps/<task>/<optim>.yaml")
    p.add_argument("--protocol", choices=tuple(PROTOCOLS), default=DEFAULT_PROTOCOL,
                   help="how to tune (default: robust; thesis = thesis §5.2.5 exactly)")
    p.add_argument("--backend", choices=tuple(BACKENDS), default=DEFAULT)
    p.add_argument("--trials", type=positive_int,
                   help="robust: search trials in all, anchors included; thesis: trials to add "
                        "(default: the spec's run_cap, 20)")
    p.add_argument("--tuned-dir", type=pathlib.Path,
                   help="where the tuned config is written (default conf/tuned; --protocol thesis: conf/tuned/thesis)")
    p.add_argument("--replace", action="store_true",
                   help="write conf/tuned/<task>_<optim>.yaml even over a result this study did not beat")
    for kind, owners in (("--protocol", PROTOCOLS), ("--backend", BACKENDS)):
        for owner in owners.values():
            group = p.add_argument_group(f"{kind} {owner.name} only")
            for option in owner.options:
                group.add_argument(option.flag, dest=option.dest, help=option.help, type=option.type,
                                   default=option.default)
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run, e.g. epochs=5")
    args = p.parse_intermixed_args(argv)
    misplaced = (foreign_options(args, "--protocol", PROTOCOLS, PROTOCOLS[args.protocol])
                 or foreign_options(args, "--backend", BACKENDS, BACKENDS[args.backend]))
    if misplaced:
        p.error(misplaced)
    return args


def foreign_options(args: argparse.Namespace, kind: str, owners: dict, chosen) -> str | None:
    """The refusal for options of another backend (or protocol) given with ``chosen``: they would
    be ignored."""
    for owner in owners.values():
        given = [o.flag for o in owner.options
                 if owner is not chosen and getattr(args, o.dest) != o.default]
        if given:
            verb = "is" if len(given) == 1 else "are"
            return f"{' and '.join(given)} {verb} for {kind} {owner.name}; {chosen.instead}"
    return None


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def main(argv=None) -> int:
    args = parse_args(argv)
    protocol, backend = PROTOCOLS[args.protocol], BACKENDS[args.backend]
    try:
        sweep = protocol.prepare(args.spec, args.overrides)
        outcome = protocol.run(sweep, backend, args.trials, args)
        study = outcome.results.study
        tuned_dir = args.tuned_dir or tuned.TUNED_DIR / protocol.tuned_subdir
        published = publish(outcome, sweep, study, protocol.name, tuned_dir, args.replace)
    except (SpecError, SourceError) as err:
        print(f"error: {args.spec}: {err}", file=sys.stderr)
        return 2
    except BackendUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NoBestRun as err:
        print(err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished trials and re-runs are kept; the same command continues the sweep",
              file=sys.stderr)
        return 130
    print(f"{outcome.said}  ({' '.join(f'{k}={v}' for k, v in outcome.params.items())})")
    took = outcome.results.duration_s
    if took.total is not None:
        phases = {"search": took.search, "reruns": took.reruns}
        parts = ", ".join(f"{phase} {duration(seconds)}" for phase, seconds in phases.items() if seconds)
        print(f"took {duration(took.total)}" + (f" ({parts})" if parts else ""))
    print(published.message)
    return 0
