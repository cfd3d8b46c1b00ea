"""Generate the sweep specs ``sweeps/<task>/<optim>.yaml`` from ``sweep_sources/`` (docs/sweeps.md).

    python scripts/write_sweep_specs.py           # write them; remove specs no source makes
    python scripts/write_sweep_specs.py --check   # only say what differs (exit 1 if anything)

Edit the sources (``protocol.yaml``, ``programs/<program>.yaml``, ``spaces/<optim>.yaml``), never
the specs: the test suite fails while the committed specs differ from what the sources make.
"""
from __future__ import annotations

import argparse
import sys

from suite.sweeps import generator, sources


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a spec differs")
    args = p.parse_args(argv)
    try:
        specs = generator.generate(sources.load())
    except sources.SourceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        problems = generator.differences(specs)
        for line in problems:
            print(f"{generator.SPECS_DIR.name}/{line}", file=sys.stderr)
        if problems:
            print(f"run `{generator.COMMAND}` and commit sweeps/", file=sys.stderr)
        return 1 if problems else 0
    changes = generator.write(specs)
    for line in changes:
        print(f"updated {generator.SPECS_DIR.name}/{line}")
    print(f"{len(specs)} specs under {generator.SPECS_DIR.name}/, {len(changes)} updated")
    return 0
